"""What every channel is: ``send(message)`` returns ``Accepted`` once the provider took the message, or raises
``SendFailed`` saying whether trying again later can help (``transient``) and, for rate limits, when
(``retry_after_s``). The delivery id travels with every message as the provider's idempotency key or reference, so a
provider that deduplicates can drop the resend that follows a crash between its accept and our commit.

Causes in ``SendFailed`` are stored and shown to operators: they never contain the address or the message text.
This module also holds what the HTTP channels share (reading a provider's answer and its ``Retry-After``).
"""

from __future__ import annotations

import contextlib
import email.utils
from datetime import UTC, datetime
from typing import Protocol

import httpx

from services.notification.domain.dispatch import Accepted, Message
from shared.logs import mask_text


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> Accepted: ...


def provider_id(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            for key in ("id", "message_id", "messageId"):
                if body.get(key) is not None:
                    return str(body[key])[:200]
    return None


def error_detail(response: httpx.Response) -> str:
    """A short error code or text from the gateway's answer, masked: gateways like to echo the number back."""
    text = ""
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            text = str(body.get("error") or body.get("message") or body.get("code") or "")
    return f": {mask_text(text)[:120]}" if text else ""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
