DROP INDEX digests_created_at;
DROP INDEX digest_items_created_at;
DROP INDEX receipts_received_at;
DROP INDEX delivery_attempts_at;
DROP INDEX deliveries_created_at;
