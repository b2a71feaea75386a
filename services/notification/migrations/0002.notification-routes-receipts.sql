-- Channel fallback, delivery receipts and opt-outs.
-- depends: 0001.notification-deliveries

ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information'));
-- delivered / read come from provider receipts, after sent.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed'));

-- The ordered fallback: [{"channel", "address", "body", "params"}, ...]; channel/address/body are routes[route_index].
ALTER TABLE deliveries
    ADD COLUMN routes      jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN route_index int   NOT NULL DEFAULT 0,
    ADD COLUMN desa_code   text,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN read_at      timestamptz;

CREATE INDEX deliveries_provider_message ON deliveries (channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX deliveries_failed ON deliveries (created_at) WHERE status = 'failed';

-- Every attempt on every channel: what the operator sees when asking "why did it go by SMS?".
CREATE TABLE delivery_attempts (
    id          bigserial   PRIMARY KEY,
    delivery_id uuid        NOT NULL REFERENCES deliveries (id),
    channel     text,
    attempt     int         NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('sent', 'retry', 'failed', 'fallback', 'deferred')),
    cause       text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

-- Provider receipts keyed by the provider's message id: one that arrives before our send call returned waits here
-- and is applied when the send result is recorded. One row per (channel, id, status): idempotent.
CREATE TABLE receipts (
    channel             text        NOT NULL,
    provider_message_id text        NOT NULL,
    status              text        NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
    cause               text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    applied_at          timestamptz,
    PRIMARY KEY (channel, provider_message_id, status)
);

-- Numbers (E.164) that asked for no more messages.
CREATE TABLE opt_outs (
    address    text        PRIMARY KEY,
    source     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
