"""The small error hierarchy every service shares.

Consumers sort failures into two kinds, because the two need opposite treatment:
- ``TransientError`` (and the infrastructure errors ``is_transient`` recognises): retry with backoff, never
  dead-letter; the message is redelivered until the outage ends.
- ``PoisonMessage`` (and any other exception raised while handling one message): that message can never succeed;
  it goes to the dead-letter topic with the reason, and consumption goes on.
"""

from __future__ import annotations

import asyncio
import re

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError

from shared.logs import mask_text


class PayungError(Exception):
    """Base of every error the project raises on purpose."""


class TransientError(PayungError):
    """A dependency is unavailable for now (database, broker, civil registry, gateway): retry later."""


class PoisonMessage(PayungError):
    """A message that can never be processed: undecodable, an unknown type or version, an invalid payload."""

    def __init__(self, reason: str, error_type: str = "invalid_message") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


# C0 and C1 controls, DEL, unpaired surrogates (not encodable as UTF-8), line separators and bidi overrides.
_UNSAFE_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
REASON_MAX = 1000


def safe_text(text: object, limit: int = REASON_MAX) -> str:
    """``text`` made safe to store and print anywhere: valid UTF-8, no control characters, NIK and phone-like
    digit runs masked, at most ``limit`` characters. Never raises (the dead-letter path relies on it)."""
    try:
        value = text if isinstance(text, str) else str(text)
    except Exception:
        value = f"<{type(text).__name__}>"
    value = _UNSAFE_CHARS.sub("?", value[: 4 * limit])
    return mask_text(value)[:limit]


_TRANSIENT_PG = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures of infrastructure that may heal by themselves: those are retried, never dead-lettered."""
    if isinstance(exc, TransientError | KafkaConnectionError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, asyncio.TimeoutError | OSError):
        return True
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False))
    return isinstance(exc, _TRANSIENT_PG)
