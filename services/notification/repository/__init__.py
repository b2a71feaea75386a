"""SQL of the notification service, one module per table group. Never commits: callers own the transaction."""
