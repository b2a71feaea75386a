-- Optimistic concurrency on review cases: a decision names the version the reviewer saw; a case changed since
-- (decided by another reviewer) refuses it with 409, and the workspace tells the second reviewer who decided.
-- depends: 0004.verification-dci

ALTER TABLE reviews ADD COLUMN version integer NOT NULL DEFAULT 0;
