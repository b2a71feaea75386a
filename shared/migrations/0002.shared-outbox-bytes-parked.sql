-- Outbox headers as bytes, and the rows the broker refused for good set aside (shared/outbox.py).
-- depends: 0001.shared-audit-log

-- jsonb refuses \u0000, so a dead letter whose reason or header held a NUL could not be stored and its batch was
-- redelivered forever. Headers are now shared.outbox.pack_headers bytes: per header a 4-byte length and the key's
-- UTF-8, a 4-byte length and the value. Rows still waiting are converted in place.
ALTER TABLE outbox ADD COLUMN headers_bytes bytea NOT NULL DEFAULT ''::bytea;
UPDATE outbox o SET headers_bytes = coalesce((
    SELECT string_agg(int4send(octet_length(k)) || k || int4send(octet_length(v)) || v, ''::bytea ORDER BY n)
    FROM jsonb_array_elements(o.headers) WITH ORDINALITY AS e(h, n),
         LATERAL (SELECT convert_to(h->>0, 'UTF8') AS k, convert_to(h->>1, 'UTF8') AS v) AS kv
), ''::bytea);
ALTER TABLE outbox DROP COLUMN headers;
ALTER TABLE outbox RENAME COLUMN headers_bytes TO headers;

-- A row the broker refused for good (too large, unknown topic, not authorised, invalid record): moved here by the
-- relay with the error, so the rows behind it are published. `./payung outbox parked` lists, replays or drops them.
CREATE TABLE outbox_parked (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint      NOT NULL,
    event_id    uuid        NOT NULL,
    topic       text        NOT NULL,
    key         bytea,
    value       bytea       NOT NULL,
    headers     bytea       NOT NULL DEFAULT ''::bytea,
    event_type  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    error       text        NOT NULL
);
