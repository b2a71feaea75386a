-- Funding sources, seats, the waitlist and the audit of duplicate attempts.
-- depends: 0000.shared-outbox-inbox

-- One row per payer and programme year, synced from configuration at startup. "used" is the seats handed out:
-- it only changes under a FOR UPDATE lock of the year's rows, so the CHECK below is the last line of defence,
-- not the mechanism.
CREATE TABLE funding_sources (
    code            text        NOT NULL,
    programme_year  integer     NOT NULL,
    name            text        NOT NULL,
    quota           integer     NOT NULL CHECK (quota >= 0),
    used            integer     NOT NULL DEFAULT 0 CHECK (used >= 0),
    priority        integer     NOT NULL,
    premium_idr     bigint      NOT NULL CHECK (premium_idr >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, programme_year),
    CONSTRAINT funding_sources_used_within_quota CHECK (used <= quota)
);

-- Membership numbers issued locally until the BPJS gateway issues them (services/enrolment/bpjs.py).
CREATE SEQUENCE local_membership_number_seq AS bigint START 1 MINVALUE 1 MAXVALUE 99999999999 NO CYCLE;

-- One seat per person (NIK), whichever source pays and whichever nomination asked.
CREATE TABLE seats (
    nomination_id      uuid        PRIMARY KEY,
    nik                text        NOT NULL UNIQUE,
    person_key         text        NOT NULL,
    funding_source     text        NOT NULL,
    programme_year     integer     NOT NULL,
    membership_number  text        NOT NULL UNIQUE,
    membership_issuer  text        NOT NULL,  -- 'local' until BPJS issues the numbers
    coverage_start     date        NOT NULL,
    enrolled_at        timestamptz NOT NULL DEFAULT now(),
    status             text        NOT NULL DEFAULT 'active' CHECK (status IN ('active')),
    FOREIGN KEY (funding_source, programme_year) REFERENCES funding_sources (code, programme_year)
);
CREATE INDEX seats_source ON seats (funding_source, programme_year);

-- People verified while every quota was full, in arrival order ("position"). The payload is the IdentityVerified
-- payload (and the event that caused the waitlisting), kept to enrol the person when a seat frees up.
CREATE TABLE waitlist (
    position        bigserial   PRIMARY KEY,
    nomination_id   uuid        NOT NULL UNIQUE,
    nik             text        NOT NULL UNIQUE,
    person_key      text        NOT NULL,
    programme_year  integer     NOT NULL,
    payload         jsonb       NOT NULL,
    causation_id    uuid        NOT NULL,
    waitlisted_at   timestamptz NOT NULL DEFAULT now(),
    promoted_at     timestamptz
);
CREATE INDEX waitlist_waiting ON waitlist (programme_year, position) WHERE promoted_at IS NULL;

-- How many people wait per year: the rank a newcomer gets, without counting the waitlist on every batch.
-- Written only under the batch's funding source locks, like funding_sources.used; whatever promotes people
-- from the waitlist must decrement it in the same transaction.
CREATE TABLE waitlist_years (
    programme_year  integer PRIMARY KEY,
    waiting         integer NOT NULL CHECK (waiting >= 0)
);

-- Verified events that created nothing because the person or the nomination already holds a seat or a place.
-- No NIK here: the person key and the nomination ids are enough to trace it.
CREATE TABLE duplicate_attempts (
    id              bigserial   PRIMARY KEY,
    event_id        uuid        NOT NULL UNIQUE,
    nomination_id   uuid        NOT NULL,
    person_key      text        NOT NULL,
    reason          text        NOT NULL,
    held_by         uuid        NOT NULL,
    programme_year  integer     NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX duplicate_attempts_nomination ON duplicate_attempts (nomination_id);
