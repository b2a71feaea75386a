-- Idempotency keys belong to the caller that sent them: the same key from two callers names two requests.
-- Keys remembered before this migration belonged to nobody in particular; they keep answering nobody (a retry
-- of such a request now meets the NIK's live nomination: 409, not a second nomination).
-- depends: 0003.nomination-ended-frees

ALTER TABLE idempotency_keys ADD COLUMN principal text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ALTER COLUMN principal DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (principal, key);
