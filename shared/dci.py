"""The DCI (Digital Convergence Initiative, spdci) message envelope: headers, signatures, acknowledgements.

Follows the "Registry core API" v1.0.0 of spdci/standards (``release/yaml/registry_core_api_v1.0.0.yaml``) and,
for the enrolment check, the IBR API v1.0.0 (``/registry/sync/enrolled``). Every message is
``{"signature", "header", "message"}``; this module builds headers, signs and verifies, and answers the
``Ack`` (``ACK``/``NACK``/``ERR``). It holds the protocol only: what a search means belongs to the adapters.

Signature (the spec's ``MsgSignature``): ``Signature: namespace="spdci", kidId="{sender_id}|{key_id}|ed25519",
algorithm="ed25519", created="<unix>", expires="<unix>", headers="(created) (expires) digest",
signature="<base64>"``. The spec names the parts signed (``{header}+{message}``) but not their byte form; we
sign, like the Beckn-style signatures this format comes from, the string
``(created): <created>\\n(expires): <expires>\\ndigest: BLAKE-512=<base64 BLAKE2b-512 of the canonical JSON of
{"header": ..., "message": ...}>`` where canonical JSON is sorted keys, no spaces, UTF-8. A verifier refuses a
missing or unparsable signature, an unknown ``kidId``, a ``kidId`` whose sender is not the header's
``sender_id``, an expired or not-yet-valid window, and a digest or signature that does not match.

Keys are Ed25519, given as base64 of the raw 32 bytes (private: the seed; public: the point).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.errors import PayungError

SPEC_VERSION = "1.0.0"
ALGORITHM = "ed25519"
Ack = Literal["ACK", "NACK", "ERR"]
_PARAM = re.compile(r'(\w+)="([^"]*)"')


class SignatureRefused(PayungError):
    """A message whose signature is missing, malformed, unknown, expired or wrong. ``code`` is the spec's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def canonical(header: Mapping[str, Any], message: Any) -> bytes:
    return orjson.dumps({"header": header, "message": message}, option=orjson.OPT_SORT_KEYS)


def _signing_string(created: int, expires: int, header: Mapping[str, Any], message: Any) -> bytes:
    digest = base64.b64encode(hashlib.blake2b(canonical(header, message), digest_size=64).digest()).decode()
    return f"(created): {created}\n(expires): {expires}\ndigest: BLAKE-512={digest}".encode()


def new_keypair() -> tuple[str, str]:
    """(private seed, public key), both base64: for configuration and tests."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(seed).decode(), base64.b64encode(public).decode()


def public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


@dataclass(frozen=True)
class Signer:
    """Signs this system's messages: ``sender_id`` as registered with the other side, its key id and key."""

    sender_id: str
    key_id: str
    private_key: Ed25519PrivateKey
    validity_s: int = 300

    @classmethod
    def from_seed(cls, sender_id: str, key_id: str, seed_b64: str, validity_s: int = 300) -> Signer:
        seed = base64.b64decode(seed_b64, validate=True)
        return cls(sender_id, key_id, Ed25519PrivateKey.from_private_bytes(seed), validity_s)

    @property
    def kid(self) -> str:
        return f"{self.sender_id}|{self.key_id}|{ALGORITHM}"

    def sign(self, header: Mapping[str, Any], message: Any, now: float | None = None) -> str:
        created = int(now if now is not None else time.time())
        expires = created + self.validity_s
        signature = self.private_key.sign(_signing_string(created, expires, header, message))
        return (
            f'Signature: namespace="spdci", kidId="{self.kid}", algorithm="{ALGORITHM}", created="{created}", '
            f'expires="{expires}", headers="(created) (expires) digest", '
            f'signature="{base64.b64encode(signature).decode()}"'
        )

    def envelope(self, header: dict[str, Any], message: Any, now: float | None = None) -> dict[str, Any]:
        return {"signature": self.sign(header, message, now), "header": header, "message": message}


@dataclass(frozen=True)
class Verifier:
    """Verifies the other side's messages: public keys by ``kidId`` (``{sender_id}|{key_id}|ed25519``)."""

    keys: Mapping[str, Ed25519PublicKey]
    max_skew_s: int = 60

    @classmethod
    def from_config(cls, keys: Mapping[str, str], max_skew_s: int = 60) -> Verifier:
        return cls({kid: public_key(text) for kid, text in keys.items()}, max_skew_s)

    def verify(self, body: Mapping[str, Any], now: float | None = None) -> str:
        """Check ``body``'s signature; return the verified sender id or raise ``SignatureRefused``."""
        text = body.get("signature")
        header, message = body.get("header"), body.get("message")
        if not isinstance(text, str) or not text:
            raise SignatureRefused("err.signature.missing", "the message is not signed")
        if not isinstance(header, Mapping):
            raise SignatureRefused("err.signature.invalid", "the message has no header")
        params: dict[str, str] = dict(_PARAM.findall(text))
        try:
            kid, created, expires = params["kidId"], int(params["created"]), int(params["expires"])
            signature = base64.b64decode(params["signature"], validate=True)
        except (KeyError, ValueError):
            raise SignatureRefused("err.signature.invalid", "the signature cannot be read") from None
        if params.get("algorithm", ALGORITHM) != ALGORITHM:
            raise SignatureRefused("err.signature.invalid", "unsupported signature algorithm")
        key = self.keys.get(kid)
        if key is None:
            raise SignatureRefused("err.signature.invalid", "signed with an unknown key")
        sender = kid.split("|", 1)[0]
        if header.get("sender_id") != sender:
            raise SignatureRefused("err.signature.invalid", "the key does not belong to the header's sender")
        clock = now if now is not None else time.time()
        if not (created - self.max_skew_s <= clock <= expires + self.max_skew_s) or expires < created:
            raise SignatureRefused("err.signature.invalid", "the signature is expired or not yet valid")
        try:
            key.verify(signature, _signing_string(created, expires, header, message))
        except InvalidSignature:
            raise SignatureRefused("err.signature.invalid", "the signature does not match the message") from None
        return sender


def timestamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat()


def header(
    action: str, sender_id: str, receiver_id: str, total_count: int, sender_uri: str | None = None
) -> dict[str, Any]:
    """A request header (``MsgHeader_V1.0.0``); ``sender_uri`` is where the asynchronous answer goes."""
    out: dict[str, Any] = {
        "version": SPEC_VERSION,
        "message_id": str(uuid.uuid4()),
        "message_ts": timestamp(),
        "action": action,
        "sender_id": sender_id,
        "receiver_id": receiver_id,
        "total_count": total_count,
        "is_msg_encrypted": False,
    }
    if sender_uri:
        out["sender_uri"] = sender_uri
    return out


def callback_header(
    action: str, sender_id: str, receiver_id: str, total_count: int, status: str = "succ", completed: int = 0
) -> dict[str, Any]:
    """An answer header (``MsgCallbackHeader_V1.0.0``)."""
    return {
        "version": SPEC_VERSION,
        "message_id": str(uuid.uuid4()),
        "message_ts": timestamp(),
        "action": action,
        "status": status,
        "total_count": total_count,
        "completed_count": completed,
        "sender_id": sender_id,
        "receiver_id": receiver_id,
        "is_msg_encrypted": False,
    }


def ack(status: Ack, correlation_id: str, error: tuple[str, str] | None = None) -> dict[str, Any]:
    """The spec's acknowledgement body (``Response``)."""
    message: dict[str, Any] = {"ack_status": status, "timestamp": timestamp(), "correlation_id": correlation_id}
    if error is not None:
        message["error"] = {"code": error[0], "message": error[1]}
    return {"message": message}


def purpose(code: str, text: str) -> dict[str, Any]:
    """The ``consent`` / ``authorize`` object: when and why the data is asked for."""
    return {"@type": "Consent", "ts": timestamp(), "purpose": {"code": code, "text": text}}
