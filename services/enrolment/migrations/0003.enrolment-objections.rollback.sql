DROP TABLE objection_remedies;
ALTER TABLE waitlist DROP COLUMN kept_number;
ALTER TABLE waitlist DROP COLUMN restored_by_objection;
ALTER TABLE seats DROP COLUMN restored_by_objection;
