"""The notification service's rules, pure (no I/O): addresses and routes, what each event tells whom, the texts,
quiet hours and rate limits, the daily digests, the per-recipient limit, and how a provider's webhook reads."""
