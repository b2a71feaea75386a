"""The small error hierarchy every service shares.

Consumers sort failures into two kinds, because the two need opposite treatment:
- ``TransientError`` (and the infrastructure errors ``is_transient`` recognises): retry with backoff, never
  dead-letter; the message is redelivered until the outage ends.
- ``PoisonMessage`` (and any other exception raised while handling one message): that message can never succeed;
  it goes to the dead-letter topic with the reason, and consumption goes on.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError


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
