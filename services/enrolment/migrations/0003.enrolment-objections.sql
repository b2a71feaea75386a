-- Objections (sanggahan): an upheld objection against the end of cover gives the member their seat back.
-- depends: 0002.enrolment-lifecycle

-- The upheld objection that restored a seat (or a waitlist place): told in EnrolmentConfirmed v2.
ALTER TABLE seats ADD COLUMN restored_by_objection uuid;
ALTER TABLE waitlist ADD COLUMN restored_by_objection uuid;
ALTER TABLE waitlist ADD COLUMN kept_number text;  -- a restored member's own KPJ number, for the seat they wait for

-- One remedy per objection: a replay of its ObjectionReviewed (under a new event id) changes nothing.
CREATE TABLE objection_remedies (
    objection_id    uuid PRIMARY KEY,
    nomination_id   uuid        NOT NULL,
    outcome         text        NOT NULL
                    CHECK (outcome IN ('restored', 'waitlisted', 'not_restorable', 'nothing_to_restore', 'pending')),
    programme_year  integer,
    funding_source  text,
    source_event_id uuid        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
