-- Coverage can end (death, move, ...): a nomination's outcome may be "ended".
-- depends: 0001.nomination-schema

ALTER TABLE nominations DROP CONSTRAINT nominations_outcome_check;
ALTER TABLE nominations ADD CONSTRAINT nominations_outcome_check
    CHECK (outcome IN ('rejected', 'waitlisted', 'enrolled', 'ended'));
