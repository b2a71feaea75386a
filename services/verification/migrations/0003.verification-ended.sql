-- A verified person whose cover ended (enrolment.ended: opted out, moved away, ...) is no longer "the person already
-- verified": a new nomination of them is verified afresh instead of being refused as a duplicate.
-- depends: 0002.verification-layers

ALTER TABLE verifications DROP CONSTRAINT verifications_outcome_check;
ALTER TABLE verifications ADD CONSTRAINT verifications_outcome_check
    CHECK (outcome IN ('verified', 'rejected', 'in_review', 'pending', 'ended'));
