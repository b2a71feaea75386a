-- BPJS can refuse a registration (EnrolmentRefused): a nomination's outcome may be "refused". Like "rejected" and
-- "ended", it frees the person for a corrected nomination (the partial unique index of 0003 covers live outcomes
-- only: none, waitlisted, enrolled).
-- depends: 0007.nomination-uploads

ALTER TABLE nominations DROP CONSTRAINT nominations_outcome_check;
ALTER TABLE nominations ADD CONSTRAINT nominations_outcome_check
    CHECK (outcome IN ('rejected', 'waitlisted', 'enrolled', 'ended', 'refused'));
