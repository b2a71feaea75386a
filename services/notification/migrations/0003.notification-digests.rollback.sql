DROP TABLE digests;
DROP TABLE desa_contacts;
DROP TABLE digest_items;
DROP INDEX deliveries_digest;
ALTER TABLE deliveries DROP COLUMN digest_day;
