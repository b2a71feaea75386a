-- Semantic idempotency: one set of messages per (nomination, outcome), whatever the number of events saying it.
-- The inbox dedupes event ids; this dedupes meaning (a confirmation republished under a new event id).
-- depends: 0003.notification-digests

CREATE TABLE outcomes_told (
    nomination_id uuid        NOT NULL,
    outcome       text        NOT NULL,  -- e.g. enrolled:2026, waitlisted:2026, ended:2026, rejected
    event_id      uuid        NOT NULL,  -- the first event that said it
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (nomination_id, outcome)
);
