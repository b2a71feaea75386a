-- A nomination whose cover ended no longer blocks a new one for the same person (opted out, moved away and back):
-- only a nomination still under way, waitlisted or enrolled is "live". Enrolment keeps its own rule of one live
-- seat per person. The predicate is repeated word for word in repository.py (ON CONFLICT must match it).
-- depends: 0002.nomination-ended

DROP INDEX nominations_one_live_per_person;
CREATE UNIQUE INDEX nominations_one_live_per_person ON nominations (person_key)
    WHERE outcome IS NULL OR outcome IN ('waitlisted', 'enrolled');
