"""Test event keys: every producing service's signing key and the trust in it, installed in the test process.

Tests that write events straight to Kafka, or hand records to a ``Consumer``, sign them as the owner would
(``headers``); a forgery test signs with another service's key or none.
"""

from __future__ import annotations

import json
from typing import Any

from shared import signing, topics, topology
from shared.contracts import Envelope, SubmissionProof

SIGNERS: dict[str, signing.Signer] = {
    service: signing.generate(f"test-{service}") for service in sorted(set(topology.owners().values()))
}


def install() -> None:
    """Make this process sign and trust like a service with every producer's key (conftest, once per session)."""
    for service, signer in SIGNERS.items():
        signing.install_signer(service, signer)
        signing.trust(signing.parse_trusted(signing.trusted_entry(signer, service)))


def headers(topic: str, value: bytes, producer: str | None = None) -> list[tuple[str, bytes]]:
    """Kafka headers signing ``value`` on the full ``topic`` with ``producer``'s key (default: the topic's owner)."""
    logical = next((t for t in topics.EVENT_TOPICS if topic.endswith(t)), topic)
    signer = SIGNERS[producer or topology.owner(logical)]
    return [(k, v.encode()) for k, v in signer.headers(topic, value)]


def proof(nomination_id: Any, nik: str, person_key: str) -> SubmissionProof:
    """The nomination service's submission proof, made with its test key."""
    kid = SIGNERS["nomination"].kid
    statement = signing.submission_statement(nomination_id, nik, person_key)
    return SubmissionProof(kid=kid, signature=signing._b64(SIGNERS["nomination"].key.sign(statement)))


def proven(env: Envelope[Any]) -> Envelope[Any]:
    """``env`` (an IdentityVerified) carrying the nomination's proof for its own nomination id, NIK and person key."""
    p = env.payload
    payload = p.model_copy(update={"submission_proof": proof(p.nomination_id, p.nik, env.person_key)})
    return env.model_copy(update={"payload": payload})


def env(service: str) -> dict[str, str]:
    """The ``PAYUNG_EVENT_*`` variables of ``service`` with the test keys, for a service command run as a process."""
    trusted: dict[str, dict[str, str]] = {}
    for producer, signer in SIGNERS.items():
        trusted |= signing.trusted_entry(signer, producer)
    return {
        "PAYUNG_EVENT_SIGNING_KEY": SIGNERS[service].secret_text(),
        "PAYUNG_EVENT_TRUSTED_KEYS": json.dumps(trusted),
    }
