-- Finished deliveries, their attempts, receipts and digests are deleted by age (shared/retention.py).
-- depends: 0006.notification-refusals

CREATE INDEX deliveries_created_at ON deliveries (created_at) WHERE status IN ('sent', 'delivered', 'read', 'failed');
CREATE INDEX delivery_attempts_at ON delivery_attempts (at);
CREATE INDEX receipts_received_at ON receipts (received_at);
CREATE INDEX digest_items_created_at ON digest_items (created_at) WHERE digest_day IS NOT NULL;
CREATE INDEX digests_created_at ON digests (created_at);
