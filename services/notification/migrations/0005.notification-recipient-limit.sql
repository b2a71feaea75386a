-- The per-recipient daily limit counts what each address was sent today (services/notification/recipient_limit.py).
-- depends: 0004.notification-outcomes-told

CREATE INDEX deliveries_address_sent ON deliveries (address, sent_at) WHERE sent_at IS NOT NULL;
