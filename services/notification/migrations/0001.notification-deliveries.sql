-- Deliveries: one message to one recipient about one event, and what became of it.
-- depends: 0000.shared-outbox-inbox

CREATE TABLE deliveries (
    id                  uuid        PRIMARY KEY,
    event_id            uuid        NOT NULL,
    nomination_id       uuid        NOT NULL,
    person_key          text        NOT NULL,
    purpose             text        NOT NULL
                        CHECK (purpose IN ('enrolment_confirmed', 'enrolment_waitlisted', 'identity_rejected')),
    recipient_role      text        NOT NULL CHECK (recipient_role IN ('beneficiary', 'nominator')),
    channel             text,       -- NULL only when there was no contact at all
    address             text,       -- phone (E.164) or email: personal data, never logged, masked in the API
    template            text        NOT NULL,
    template_version    int         NOT NULL,
    body                text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts            int         NOT NULL DEFAULT 0,
    -- pending: when to try; sending: when the claim expires (its dispatcher died mid-call); NULL once final.
    next_attempt_at     timestamptz,
    last_error          text,
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz,
    -- Exactly one message per (event, recipient, purpose), however often the event is redelivered.
    CONSTRAINT deliveries_one_per_event UNIQUE (event_id, recipient_role, purpose),
    CONSTRAINT deliveries_due_when_open CHECK ((status IN ('pending', 'sending')) = (next_attempt_at IS NOT NULL))
);

-- What the dispatcher claims: small, because finished deliveries leave it.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX deliveries_nomination ON deliveries (nomination_id);
