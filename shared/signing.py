"""Authentic events: every domain event is signed by its producer, every consumer checks who signed it.

Ed25519 signatures, one private key per producing service, so a consumer that holds a producer's PUBLIC key can check
its events but cannot forge them (a MAC shared with the consumers would let any consumer forge). What is signed is
``b"payung-event-v1\\0" + topic + b"\\0" + value``: the exact bytes of the Kafka value and the full topic name (prefix
included), so an event cannot be replayed on another topic. The signature travels in two Kafka headers, ``payung-kid``
(which key; several may be trusted at once, for rotation) and ``payung-sig`` (base64url, no padding).

A consumer accepts an event only when its envelope's ``producer`` is the declared owner of the topic
(``shared.topology.owner``, from each service's declared topology) and the signature verifies with a trusted key OF
THAT OWNER. Anything else raises
``PoisonMessage`` (``forged_producer``, ``unsigned``, ``unknown_key``, ``bad_signature``): the consumer dead-letters it.

Keys come from the environment (docs/security.md): ``PAYUNG_EVENT_SIGNING_KEY`` (``<kid>:<base64url private key>``)
or ``PAYUNG_EVENT_SIGNING_KEY_FILE``, and ``PAYUNG_EVENT_TRUSTED_KEYS`` (JSON ``{kid: {producer, public_key}}``) or
``PAYUNG_EVENT_TRUSTED_KEYS_FILE``. ``configure`` (the service lifespan) refuses to start a service without them.
The keys in force live in this module's registry (``install_signer``, ``trust``), which is what lets the outbox sign
a row without every call site passing a key, and several services' keys coexist in one test process.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared import topology
from shared.errors import PoisonMessage

KID_HEADER = "payung-kid"
SIG_HEADER = "payung-sig"
_DOMAIN = b"payung-event-v1\x00"


class SigningNotConfigured(RuntimeError):
    """A service was started without its signing key or without trusted keys: it refuses to run."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_bytes(topic: str, value: bytes) -> bytes:
    """What the signature covers: the topic (no cross-topic replay) and the exact value bytes."""
    return _DOMAIN + topic.encode() + b"\x00" + value


@dataclass(frozen=True)
class Signer:
    kid: str
    key: Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str) -> Signer:
        """``<kid>:<base64url raw 32-byte Ed25519 private key>``."""
        kid, sep, secret = text.strip().rpartition(":")
        if not sep or not kid:
            raise SigningNotConfigured("event signing key must read <kid>:<base64url private key>")
        try:
            return cls(kid, Ed25519PrivateKey.from_private_bytes(_unb64(secret)))
        except (ValueError, binascii.Error):
            raise SigningNotConfigured("event signing key is not a base64url Ed25519 private key") from None

    def sign(self, topic: str, value: bytes) -> str:
        return _b64(self.key.sign(signed_bytes(topic, value)))

    def headers(self, topic: str, value: bytes) -> tuple[tuple[str, str], ...]:
        return ((KID_HEADER, self.kid), (SIG_HEADER, self.sign(topic, value)))

    def public_key(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return _b64(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def secret_text(self) -> str:
        """The ``PAYUNG_EVENT_SIGNING_KEY`` form of this key."""
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        return f"{self.kid}:{_b64(self.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))}"


def generate(kid: str) -> Signer:
    """A new key pair (the native stack makes one per service per instance)."""
    return Signer(kid, Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class TrustedKey:
    producer: str
    key: Ed25519PublicKey


def parse_trusted(data: Mapping[str, Any]) -> dict[str, TrustedKey]:
    """``{kid: {"producer": service, "public_key": base64url raw 32 bytes}}``."""
    keys: dict[str, TrustedKey] = {}
    for kid, entry in data.items():
        try:
            keys[kid] = TrustedKey(entry["producer"], Ed25519PublicKey.from_public_bytes(_unb64(entry["public_key"])))
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise SigningNotConfigured(f"trusted event key {kid!r} must be {{producer, public_key}}") from None
    return keys


def trusted_entry(signer: Signer, producer: str) -> dict[str, dict[str, str]]:
    """The ``PAYUNG_EVENT_TRUSTED_KEYS`` entry of ``signer``'s public key."""
    return {signer.kid: {"producer": producer, "public_key": signer.public_key()}}


# The keys in force in this process: producer -> its signer, kid -> trusted public key.
_SIGNERS: dict[str, Signer] = {}
_TRUSTED: dict[str, TrustedKey] = {}


def install_signer(producer: str, signer: Signer) -> None:
    _SIGNERS[producer] = signer


def trust(keys: Mapping[str, TrustedKey]) -> None:
    _TRUSTED.update(keys)


def sign_headers(producer: str, topic: str, value: bytes) -> tuple[tuple[str, str], ...]:
    """The signature headers of an event of ``producer``; refuses to make an unsigned event."""
    signer = _SIGNERS.get(producer)
    if signer is None:
        raise SigningNotConfigured(f"no event signing key installed for producer {producer!r}")
    return signer.headers(topic, value)


def _header(headers: Iterable[tuple[str, bytes | None]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


_TOKEN = re.compile(r"[A-Za-z0-9._:=-]{1,200}")


def carried_signature(headers: Iterable[tuple[str, bytes | None]] | None) -> tuple[tuple[str, str], ...]:
    """A record's signature headers, when well-formed, for its dead letter: a replay onto the same topic then still
    verifies (anything else in them is dropped, so a dead letter can always be stored)."""
    found = [(name, _header(headers, name)) for name in (KID_HEADER, SIG_HEADER)]
    return tuple((name, v) for name, v in found if v is not None and _TOKEN.fullmatch(v))


def check(topic: str, value: bytes, headers: Iterable[tuple[str, bytes | None]] | None, envelope: Any) -> None:
    """Raise ``PoisonMessage`` unless the event comes from the owner of its event type, signed with its key.

    ``topic`` is the full topic the record was read from, ``envelope`` its decoded envelope (its payload class
    names the logical topic and so the owner).
    """
    owner = topology.owners().get(envelope.payload.topic)
    if owner is None or envelope.producer != owner:
        raise PoisonMessage(
            f"{envelope.event_type} must be produced by {owner}, the envelope names another producer",
            "forged_producer",
        )
    kid, sig = _header(headers, KID_HEADER), _header(headers, SIG_HEADER)
    if kid is None or sig is None:
        raise PoisonMessage("event carries no signature headers", "unsigned")
    trusted = _TRUSTED.get(kid)
    if trusted is None:
        raise PoisonMessage("event signed with a key id that is not trusted", "unknown_key")
    if trusted.producer != owner:
        raise PoisonMessage(f"event signed with a key of another producer than {owner}", "forged_producer")
    try:
        trusted.key.verify(_unb64(sig), signed_bytes(topic, value))
    except (InvalidSignature, ValueError, binascii.Error):
        raise PoisonMessage("event signature does not verify", "bad_signature") from None


_SUBMISSION = b"payung-submission-v1\x00"


def submission_statement(nomination_id: Any, nik: str, person_key: str) -> bytes:
    """What the nomination service attests for each nomination it issued: this id, for this NIK and person key.

    A consumer further down (enrolment) rebuilds it from the event in hand and checks the attestation with the
    nomination service's public key, so a verification that was never given such a nomination cannot invent one.
    """
    return _SUBMISSION + f"{nomination_id}\x00{nik}\x00{person_key}".encode()


def attest(producer: str, statement: bytes) -> tuple[str, str]:
    """(kid, signature) of ``statement`` by ``producer``'s installed key (another domain than events' signatures)."""
    signer = _SIGNERS.get(producer)
    if signer is None:
        raise SigningNotConfigured(f"no event signing key installed for producer {producer!r}")
    return signer.kid, _b64(signer.key.sign(statement))


def verify_statement(producer: str, kid: str, sig: str, statement: bytes) -> bool:
    """True when ``sig`` is ``producer``'s signature of ``statement`` with a trusted key."""
    trusted = _TRUSTED.get(kid)
    if trusted is None or trusted.producer != producer:
        return False
    try:
        trusted.key.verify(_unb64(sig), statement)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


class SigningSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYUNG_", extra="ignore")

    event_signing_key: SecretStr | None = Field(default=None, description="<kid>:<base64url Ed25519 private key>")
    event_signing_key_file: Path | None = Field(default=None, description="A file holding the same")
    event_trusted_keys: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="JSON {kid: {producer, public_key}} of the producers this service trusts"
    )
    event_trusted_keys_file: Path | None = Field(default=None, description="A JSON file of the same shape, merged in")


def configure(service: str, settings: SigningSettings | None = None) -> None:
    """Install ``service``'s signing key and its trusted keys from the environment; refuse to run without them.

    A service that owns topics needs its own signing key; every service needs trusted keys to consume. Keys already
    installed in this process (a test's) count.
    """
    settings = settings or SigningSettings()
    secret = settings.event_signing_key.get_secret_value() if settings.event_signing_key else None
    if secret is None and settings.event_signing_key_file is not None:
        secret = settings.event_signing_key_file.read_text()
    if secret:
        install_signer(service, Signer.parse(secret))
    trusted = dict(settings.event_trusted_keys)
    if settings.event_trusted_keys_file is not None:
        trusted |= json.loads(settings.event_trusted_keys_file.read_text())
    trust(parse_trusted(trusted))
    if service in topology.owners().values() and service not in _SIGNERS:
        raise SigningNotConfigured(f"{service}: PAYUNG_EVENT_SIGNING_KEY(_FILE) is required (docs/security.md)")
    if not _TRUSTED:
        raise SigningNotConfigured(f"{service}: PAYUNG_EVENT_TRUSTED_KEYS(_FILE) is required (docs/security.md)")
