-- Idempotency keys are deleted by age (shared/retention.py): one row per request, found by this index.
-- depends: 0005.nomination-letters

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
