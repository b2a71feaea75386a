-- The retention job (shared/retention.py) deletes inbox rows by age, in batches: without this index every batch
-- would scan the inbox, the one table of every service that grows with each consumed event.
-- depends: 0002.shared-outbox-bytes-parked

CREATE INDEX inbox_processed_at ON inbox (processed_at);
CREATE INDEX outbox_parked_parked_at ON outbox_parked (parked_at);
