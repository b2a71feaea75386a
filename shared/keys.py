"""Pseudonymous person keys.

Kafka keys and log fields identify a person by ``HMAC-SHA256(secret, NIK)``, never by the NIK itself: the key keeps
one person's events on one partition (so in order) without putting personal data in keys, offsets tooling or logs.
Only the nomination service holds the secret; downstream services carry the key along in the envelope.
"""

from __future__ import annotations

import hashlib
import hmac


def person_key(nik: str, secret: str) -> str:
    """A stable, non-reversible key for the person with this NIK (32 hex characters)."""
    digest = hmac.new(secret.encode(), nik.encode(), hashlib.sha256).hexdigest()
    return digest[:32]
