"""Inbound messages (a person texted the programme's number), read without I/O: their stable id, the sender's
pseudonymous key, the text as published, and the per-phone flood limit.

Every inbound text that is not an opt-out (``receipts.is_stop``) becomes an ``InboundMessageReceived`` for
nomination, which reads the keyword (``CEK``, ``SANGGAH``, ``DAFTAR``) and answers. The Kafka key is
``phone_key``: an HMAC of the E.164 number with ``inbound_key_secret`` (``webhook_secret`` when unset), never the
number itself.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

INBOUND_NAMESPACE = uuid.UUID("7d1b6f0e-3c2a-4e8b-9a51-2b6c4d8e0f13")
MAX_TEXT = 480  # InboundMessageReceived.text
ContractChannel = Literal["sms", "whatsapp"]
# The webhook's channel -> the contract's (``shared.contracts.Channel``) and back (the channel a reply takes).
CONTRACT_CHANNEL: dict[str, ContractChannel] = {"sms_http": "sms", "whatsapp": "whatsapp"}
REPLY_CHANNEL: dict[str, str] = {"sms": "sms_http", "whatsapp": "whatsapp"}


@dataclass(frozen=True)
class InboundLimit:
    """At most ``per_window`` messages from one number are published per ``window``; the rest are counted only."""

    per_window: int = 20
    window: timedelta = timedelta(hours=1)


def message_id(channel: str, gateway_id: str | None, phone: str, text: str) -> uuid.UUID:
    """uuid5 of (channel, the gateway's message id): a redelivered webhook maps onto the same message.

    A gateway that gives no id: the (sender, text) pair stands in, so a redelivery is still one message (the same
    text sent twice in a row without ids is then taken as one, which costs nothing: the answer would repeat).
    """
    name = f"{channel}/id/{gateway_id}" if gateway_id else f"{channel}/content/{phone}/{text}"
    return uuid.uuid5(INBOUND_NAMESPACE, name)


def phone_key(secret: str, phone: str) -> str:
    """The sender's person key: HMAC-SHA256 of the E.164 number (32 hex characters, like ``shared.keys``)."""
    return hmac.new(secret.encode(), f"phone:{phone}".encode(), hashlib.sha256).hexdigest()[:32]


def published_text(text: str) -> str:
    """The text as published: surrounding blanks dropped, at most ``MAX_TEXT`` characters."""
    return text.strip()[:MAX_TEXT]


def within_limit(recent: int, limit: InboundLimit) -> bool:
    """Whether one more message may be published after ``recent`` published in the window (0: no limit)."""
    return limit.per_window <= 0 or recent < limit.per_window
