-- A seat's life: waiting for BPJS, covered, ended, refused by BPJS, renewed into the next programme year.
-- depends: 0001.enrolment-seats

-- A seat is now one person's seat in ONE programme year: renewal adds the next year's row for the same nomination,
-- with the same membership number. "One NIK, one seat" becomes: at most one LIVE seat (pending_bpjs or active) per
-- NIK and per membership number, whatever the year; ended, refused and renewed rows are history.
ALTER TABLE seats DROP CONSTRAINT seats_pkey;
ALTER TABLE seats ADD PRIMARY KEY (nomination_id, programme_year);
ALTER TABLE seats DROP CONSTRAINT seats_nik_key;
ALTER TABLE seats DROP CONSTRAINT seats_membership_number_key;
ALTER TABLE seats ALTER COLUMN membership_number DROP NOT NULL;  -- NULL while BPJS has not answered
ALTER TABLE seats DROP CONSTRAINT seats_status_check;
ALTER TABLE seats ADD CONSTRAINT seats_status_check
    CHECK (status IN ('pending_bpjs', 'active', 'ended', 'refused', 'renewed'));
ALTER TABLE seats ADD CONSTRAINT seats_number_when_active CHECK (status <> 'active' OR membership_number IS NOT NULL);
CREATE UNIQUE INDEX seats_live_nik ON seats (nik) WHERE status IN ('pending_bpjs', 'active');
CREATE UNIQUE INDEX seats_live_membership_number ON seats (membership_number) WHERE status IN ('pending_bpjs', 'active');
CREATE INDEX seats_nik ON seats (nik);

ALTER TABLE seats
    ADD COLUMN coverage_end       date,         -- last day covered; NULL while covered
    ADD COLUMN end_reason         text,         -- EndReason of shared/contracts.py, or 'bpjs_refused'
    ADD COLUMN ended_at           timestamptz,
    ADD COLUMN confirmed_at       timestamptz,  -- when BPJS (or the local issuer) gave the number
    ADD COLUMN promoted           boolean NOT NULL DEFAULT false,  -- the seat came from the waitlist
    ADD COLUMN payload            jsonb,        -- the IdentityVerified payload: what the events to the person need
    ADD COLUMN bpjs_attempts      integer NOT NULL DEFAULT 0,
    ADD COLUMN bpjs_next_attempt  timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN bpjs_last_error    text,
    ADD COLUMN bpjs_refusal_code  text,
    ADD COLUMN bpjs_refusal_text  text,
    ADD COLUMN arrival            bigserial;    -- order seats were given (a renewed row keeps its first one)
-- What the HTTP registrar picks up next.
CREATE INDEX seats_pending_bpjs ON seats (bpjs_next_attempt) WHERE status = 'pending_bpjs';
CREATE INDEX seats_year_source ON seats (programme_year, funding_source);

-- A waiting person who died or left the regency leaves the waitlist without a seat. One place per NIK among the
-- people still waiting (someone promoted whose seat later ended may be nominated, and wait, again).
ALTER TABLE waitlist ADD COLUMN removed_at timestamptz, ADD COLUMN removal_reason text;
ALTER TABLE waitlist DROP CONSTRAINT waitlist_nik_key;
CREATE UNIQUE INDEX waitlist_waiting_nik ON waitlist (nik) WHERE promoted_at IS NULL AND removed_at IS NULL;
DROP INDEX waitlist_waiting;
CREATE INDEX waitlist_waiting ON waitlist (programme_year, position) WHERE promoted_at IS NULL AND removed_at IS NULL;

-- Every change to a seat or waitlist place after allocation: who (operator, registry snapshot, BPJS, renewal),
-- when, why. No NIK: nomination id and year identify the seat.
CREATE TABLE enrolment_changes (
    id              bigserial   PRIMARY KEY,
    nomination_id   uuid        NOT NULL,
    programme_year  integer     NOT NULL,
    change          text        NOT NULL,  -- ended, refused, confirmed, promoted, renewed, waitlist_removed, flagged
    reason          text,
    effective_date  date,
    note            text,
    recorded_by     text        NOT NULL,
    source_event_id uuid,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrolment_changes_nomination ON enrolment_changes (nomination_id, id);
