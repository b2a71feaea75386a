DROP INDEX IF EXISTS nominations_person_key;
DROP TABLE IF EXISTS inbound_answers;
DROP TABLE IF EXISTS selfcheck_lookups;
