-- Layered verification: review queue, pending registry look-ups, registry answer cache, wage-earner roster,
-- and the facts about verified people that duplicate detection and registry refreshes compare against.
-- depends: 0001.verification-schema

-- A decision may now wait: for a Disnaker verifier (in_review) or for the civil registry (pending).
ALTER TABLE verifications DROP CONSTRAINT verifications_outcome_check;
ALTER TABLE verifications ADD CONSTRAINT verifications_outcome_check
    CHECK (outcome IN ('verified', 'rejected', 'in_review', 'pending'));
-- A pending row is rewritten when the registry answers: its event is only published then.
ALTER TABLE verifications ALTER COLUMN event_id DROP NOT NULL;
ALTER TABLE verifications ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Who the nominee is, for fuzzy duplicates and life events (rows before this migration stay NULL: not compared).
ALTER TABLE verifications ADD COLUMN nik text;
ALTER TABLE verifications ADD COLUMN full_name text;        -- the registry's name (NAMA_LGKP)
ALTER TABLE verifications ADD COLUMN name_key text;         -- names.normalise(full_name).given
ALTER TABLE verifications ADD COLUMN birth_date date;       -- the registry's
ALTER TABLE verifications ADD COLUMN no_kk text;
ALTER TABLE verifications ADD COLUMN desa_code text;
ALTER TABLE verifications ADD COLUMN programme_regency text;

-- Fuzzy duplicate candidates are looked up by birth date, then scored by name (see duplicates.py).
CREATE INDEX verifications_verified_birth_name ON verifications (birth_date, name_key) WHERE outcome = 'verified';
-- Life events: verified people by NIK.
CREATE INDEX verifications_verified_nik ON verifications (nik) WHERE outcome = 'verified';
-- Exact duplicates also count people in review or waiting for the registry.
CREATE INDEX verifications_open_person ON verifications (person_key) WHERE outcome IN ('in_review', 'pending');

-- Nominations waiting for the civil registry (registry unavailable): retried by a background task.
CREATE TABLE pending_lookups (
    nomination_id   uuid PRIMARY KEY REFERENCES verifications (nomination_id),
    envelope        jsonb       NOT NULL,   -- the NominationSubmitted envelope, decided again as it was
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text        NOT NULL DEFAULT ''
);
CREATE INDEX pending_lookups_due ON pending_lookups (next_attempt_at);

-- Cases a Disnaker verifier decides, with the evidence side by side.
CREATE TABLE reviews (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    nomination_id   uuid        NOT NULL UNIQUE REFERENCES verifications (nomination_id),
    person_key      text        NOT NULL,
    layer           text        NOT NULL,
    status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'approved', 'rejected')),
    desa_code       text        NOT NULL,
    reasons         jsonb       NOT NULL,
    evidence        jsonb       NOT NULL,   -- the other record(s) and each signal (see duplicates.py)
    envelope        jsonb       NOT NULL,   -- the NominationSubmitted envelope
    record          jsonb       NOT NULL,   -- the registry record the decision used
    name_score      double precision,
    flags           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz
);
CREATE INDEX reviews_open_by_desa ON reviews (desa_code, id) WHERE status = 'open';

-- The audit trail of review decisions: who, when, why (never deleted).
CREATE TABLE review_decisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    review_id   bigint      NOT NULL REFERENCES reviews (id),
    decision    text        NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason_code text,
    note        text        NOT NULL DEFAULT '',
    reviewer    text        NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    event_id    uuid        NOT NULL UNIQUE
);

-- Answers of the HTTP civil registry, reused until they expire (only definite answers are cached).
CREATE TABLE registry_cache (
    nik        text PRIMARY KEY,
    state      text        NOT NULL CHECK (state IN ('match', 'no_match', 'deceased', 'inactive')),
    record     jsonb,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- The roster of active BPJS Ketenagakerjaan wage-earner participants (NIKs only), replaced whole by each load.
CREATE TABLE wage_earner_snapshots (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_name text        NOT NULL,
    row_count   integer     NOT NULL,
    sha256      text        NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE wage_earners (
    nik         text PRIMARY KEY CHECK (nik ~ '^[0-9]{16}$'),
    snapshot_id bigint NOT NULL
);
