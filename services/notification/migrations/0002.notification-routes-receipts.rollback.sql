DROP TABLE opt_outs;
DROP TABLE receipts;
DROP TABLE delivery_attempts;
DROP INDEX deliveries_failed;
DROP INDEX deliveries_provider_message;
ALTER TABLE deliveries DROP COLUMN routes, DROP COLUMN route_index, DROP COLUMN desa_code, DROP COLUMN delivered_at,
    DROP COLUMN read_at;
