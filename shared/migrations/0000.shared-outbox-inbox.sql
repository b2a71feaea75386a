-- Reliable messaging tables every service has (applied before the service's own migrations).
-- depends:

-- Transactional outbox: rows are written in the same transaction as the state change they announce;
-- the relay publishes them to Kafka in id order and deletes them once the broker acknowledged.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    topic       text        NOT NULL,
    key         bytea,
    value       bytea       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    event_type  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Idempotent inbox: one row per (consumer, event) processed, written in the same transaction as the effect.
CREATE TABLE inbox (
    consumer     text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
