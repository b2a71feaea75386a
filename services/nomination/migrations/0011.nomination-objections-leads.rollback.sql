DROP TABLE leads;
DROP TABLE objection_evidence;
DROP TABLE objections;
