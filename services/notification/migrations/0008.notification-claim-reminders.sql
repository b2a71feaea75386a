-- Issue 15 (docs/outreach.md): the members told how to claim once a year, and the purposes of issue 15.
-- depends: 0007.notification-retention-indexes

-- Every purpose of shared.formats.Purpose (issue 15's included, whoever sends them) plus the two without events
-- (daily_digest, quota_shortfall): one list, so the migrations of issue 15 need not follow one another.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_purpose_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_purpose_check CHECK (purpose IN (
    'enrolment_confirmed', 'enrolment_waitlisted', 'enrolment_promoted', 'identity_rejected', 'enrolment_ended',
    'death_benefit_information', 'daily_digest', 'enrolment_refused', 'membership_card', 'claim_reminder',
    'objection_received', 'objection_decided', 'quota_shortfall'));

-- A member as the yearly reminder needs them, folded from EnrolmentConfirmed / EnrolmentEnded (personal data:
-- the phone and the membership number; a row goes with its member's deliveries, shared/retention.py).
CREATE TABLE claim_members (
    nomination_id     uuid        PRIMARY KEY,
    person_key        text        NOT NULL,
    phone             text        NOT NULL,
    membership_number text        NOT NULL,
    desa_code         text,
    coverage_start    date        NOT NULL,
    ended_on          date,       -- the last day covered; NULL while covered
    last_reminded_on  date,       -- the cover start or anniversary last reminded for
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claim_members_covered ON claim_members (coverage_start) WHERE ended_on IS NULL;
