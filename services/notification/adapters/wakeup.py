"""The database's wake-up call to the dispatch job: a connection LISTENing on the channel that new due deliveries
NOTIFY (``repository.deliveries.wake_dispatcher``), which sets the job's ``wake`` event."""

from __future__ import annotations

import asyncio
import contextlib

from shared import db
from shared.db import Conn
from shared.logs import get_logger

log = get_logger(__name__)


class WakeListener:
    def __init__(self, dsn: str, channel: str, wake: asyncio.Event) -> None:
        self._dsn = dsn
        self._channel = channel
        self._wake = wake
        self._conn: Conn | None = None

    async def ensure(self) -> None:
        """LISTEN, (re)connecting when the connection is missing; while that fails the job polls only."""
        if self._conn is not None and not self._conn.is_closed():
            return
        try:
            conn = await db.connect(self._dsn)
            await conn.add_listener(self._channel, lambda *_: self._wake.set())
        except Exception as exc:
            # Polling still works; the claim that follows reports a database that is really gone.
            log.warning("dispatcher cannot listen, polling", error_type=type(exc).__name__)
            self._conn = None
            return
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), timeout=5)
            self._conn = None
