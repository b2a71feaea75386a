DROP TABLE claim_members;
