-- Issue 15 (docs/outreach.md): the members told how to claim once a year.
-- depends: 0009.notification-inbound

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
