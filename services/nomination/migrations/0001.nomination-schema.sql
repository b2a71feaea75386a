-- Nominations, their history and idempotency keys.
-- depends: 0000.shared-outbox-inbox

CREATE TABLE nominations (
    id                 uuid PRIMARY KEY,
    person_key         text        NOT NULL,
    nik                text        NOT NULL,
    full_name          text        NOT NULL,
    birth_date         date        NOT NULL,
    sex                char(1)     NOT NULL CHECK (sex IN ('M', 'F')),
    phone              text        NOT NULL,
    address            jsonb       NOT NULL,
    desa_code          text        NOT NULL,
    occupation         text        NOT NULL,
    nominator          jsonb       NOT NULL,
    supporting_letter  jsonb,
    status             text        NOT NULL DEFAULT 'submitted',
    outcome            text CHECK (outcome IN ('rejected', 'waitlisted', 'enrolled')),
    progress           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    submitted_at       timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One live nomination per person: a second submission of the same NIK points to the first. A rejected nomination
-- no longer counts, so a corrected resubmission goes through.
CREATE UNIQUE INDEX nominations_one_live_per_person ON nominations (person_key) WHERE outcome IS DISTINCT FROM 'rejected';
CREATE INDEX nominations_status ON nominations (status);
CREATE INDEX nominations_desa ON nominations (desa_code);

-- Every step a nomination took, from the events that reported it (the audit trail of its changes).
CREATE TABLE nomination_history (
    nomination_id uuid        NOT NULL REFERENCES nominations (id),
    event_id      uuid        NOT NULL,
    stage         text        NOT NULL,
    detail        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (nomination_id, event_id)
);

-- Idempotency-Key header: the first answer is stored and replayed for retries of the same request.
CREATE TABLE idempotency_keys (
    key            text PRIMARY KEY,
    request_hash   text        NOT NULL,
    nomination_id  uuid        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
