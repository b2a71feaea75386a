-- Retention (shared/retention.py): indexes for deleting by age, and when the job last ran. Without the inbox index
-- every batch would scan the inbox, the one table of every service that grows with each consumed event.
-- depends: 0002.shared-outbox-bytes-parked

CREATE INDEX inbox_processed_at ON inbox (processed_at);
CREATE INDEX outbox_parked_parked_at ON outbox_parked (parked_at);

-- When the job last finished here, and what it deleted (counts per table): a replica whose daily timer fires after
-- another replica's run skips it, so each database gets one run a day. One row.
CREATE TABLE retention_runs (
    job         text        PRIMARY KEY,
    finished_at timestamptz NOT NULL,
    deleted     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
