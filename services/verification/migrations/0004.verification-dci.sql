-- The civil registry through the DCI standard (services/verification/registry_dci.py): searches waiting for their
-- on-search callback, the message ids already accepted (replays are refused), the death subscription, and the life
-- events already announced (by a notification or a re-check).
-- depends: 0003.verification-ended

-- One row per NIK asked in an asynchronous search: (transaction_id, reference_id) is how the callback names it.
CREATE TABLE dci_searches (
    transaction_id text        NOT NULL,
    reference_id   text        NOT NULL,
    nik            text        NOT NULL,
    asked_at       timestamptz NOT NULL DEFAULT now(),
    answered_at    timestamptz,
    PRIMARY KEY (transaction_id, reference_id)
);
CREATE INDEX dci_searches_open ON dci_searches (nik, asked_at) WHERE answered_at IS NULL;

-- Every signed message accepted from the registry, by its sender and message id: a second delivery is a replay.
CREATE TABLE dci_messages (
    sender_id   text        NOT NULL,
    message_id  text        NOT NULL,
    action      text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sender_id, message_id)
);

-- The subscription to death events: requested (ACK received), then active once on-subscribe gives its code.
CREATE TABLE dci_subscriptions (
    transaction_id text PRIMARY KEY,
    event_type     text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('requested', 'active', 'refused')),
    code           text,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A life event announced once per verified nomination, whatever number of DCI notifications or yearly re-checks
-- (recheck.py) report it. source: the notification's message id, or 'recheck'.
CREATE TABLE announced_life_events (
    nomination_id uuid        NOT NULL,
    change        text        NOT NULL,
    source        text        NOT NULL,
    event_id      uuid        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (nomination_id, change)
);
