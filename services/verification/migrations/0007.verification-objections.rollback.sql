DROP TABLE objection_evidence;
DROP TABLE objections;
ALTER TABLE verifications DROP COLUMN submitted;
