"""The self-check link on a membership card: ``<self-check URL>/cek/kartu/<token>``.

The token names one nomination and is signed (Ed25519, ``shared.signing.attest``) by the service that printed the
card: notification for the card sent to a member, nomination for a desa's printed batch. The self-check page
(nomination) shows that member's status to whoever holds the card, the way the card itself would, after checking
the signature against the printer's trusted public key; it never needs a shared secret. A token is
``<nomination id, base64url>.<kid, base64url>.<signature, base64url>``: at most ``MAX_TOKEN_CHARS`` characters.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable

from shared import signing

# The statement signed: its own domain, so a card signature is never an event's or a submission proof's.
_DOMAIN = b"payung-card-v1\0"
# Who may print cards.
PRINTERS = ("notification", "nomination")
MAX_TOKEN_CHARS = 200


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def card_token(printer: str, nomination_id: uuid.UUID) -> str:
    """A token for ``nomination_id``'s card, signed with ``printer``'s installed event key."""
    kid, sig = signing.attest(printer, _DOMAIN + nomination_id.bytes)
    return f"{_b64(nomination_id.bytes)}.{_b64(kid.encode())}.{sig}"


def read_card_token(token: str, printers: Iterable[str] = PRINTERS) -> uuid.UUID | None:
    """The nomination a genuine token names, or None for anything else (malformed, oversized, forged, unknown key)."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        return None
    raw_id, raw_kid, sig = token.split(".")
    try:
        nomination_id = uuid.UUID(bytes=_unb64(raw_id))
        kid = _unb64(raw_kid).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    statement = _DOMAIN + nomination_id.bytes
    if any(signing.verify_statement(printer, kid, sig, statement) for printer in printers):
        return nomination_id
    return None


def card_url(self_check_url: str, token: str) -> str:
    """The address the card's QR code opens."""
    return f"{self_check_url.rstrip('/')}/cek/kartu/{token}"
