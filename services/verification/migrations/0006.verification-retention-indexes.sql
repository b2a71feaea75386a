-- Replay-protection ids, DCI searches and expired cache answers are deleted by age (shared/retention.py).
-- depends: 0005.verification-review-version

CREATE INDEX dci_messages_received_at ON dci_messages (received_at);
CREATE INDEX dci_searches_asked_at ON dci_searches (asked_at);
CREATE INDEX registry_cache_expires_at ON registry_cache (expires_at);
