"""Test event keys: every producing service's signing key and the trust in it, installed in the test process.

Tests that write events straight to Kafka, or hand records to a ``Consumer``, sign them as the owner would
(``headers``); a forgery test signs with another service's key or none.
"""

from __future__ import annotations

from shared import signing, topics

SIGNERS: dict[str, signing.Signer] = {
    service: signing.generate(f"test-{service}") for service in sorted(set(topics.OWNERS.values()))
}


def install() -> None:
    """Make this process sign and trust like a service with every producer's key (conftest, once per session)."""
    for service, signer in SIGNERS.items():
        signing.install_signer(service, signer)
        signing.trust(signing.parse_trusted(signing.trusted_entry(signer, service)))


def headers(topic: str, value: bytes, producer: str | None = None) -> list[tuple[str, bytes]]:
    """Kafka headers signing ``value`` on the full ``topic`` with ``producer``'s key (default: the topic's owner)."""
    logical = next((t for t in topics.EVENT_TOPICS if topic.endswith(t)), topic)
    signer = SIGNERS[producer or topics.owner(logical)]
    return [(k, v.encode()) for k, v in signer.headers(topic, value)]
