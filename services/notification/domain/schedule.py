"""When messages may go out: the quiet-hours window and the providers' rate limits.

``SendWindow`` is pure arithmetic on aware datetimes; ``TokenBucket`` takes its clock as an argument so that tests
can drive it. Kalimantan Timur is WITA (Asia/Makassar, UTC+8, no daylight saving), but any zone works.
"""

from __future__ import annotations

import asyncio
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WITA = ZoneInfo("Asia/Makassar")


@dataclass(frozen=True)
class SendWindow:
    """Messages may go out from ``start`` (inclusive) to ``end`` (exclusive), local time in ``zone``.

    ``start > end`` is a window across midnight (e.g. 20:00 to 06:00); ``start == end`` means always open.
    """

    start: time = time(8, 0)
    end: time = time(20, 0)
    zone: ZoneInfo = WITA

    def is_open(self, at: datetime) -> bool:
        if self.start == self.end:
            return True
        local = at.astimezone(self.zone).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when the window is open, else the next time it opens (as an aware UTC datetime)."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        opening = datetime.combine(local.date(), self.start, tzinfo=self.zone)
        if opening <= local:
            opening = datetime.combine(local.date() + timedelta(days=1), self.start, tzinfo=self.zone)
        return opening.astimezone(UTC)


class TokenBucket:
    """At most ``rate`` messages per second on average, in bursts of at most ``burst`` (default: one second's worth).

    ``reserve()`` takes a token and says how long to wait before using it; a reservation is never refused, so
    concurrent senders queue up fairly behind each other. ``rate == 0`` means unlimited.
    """

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = _time.monotonic) -> None:
        self.rate = rate
        self.burst = max(burst if burst is not None else rate, 1.0)
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()

    def reserve(self) -> float:
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def take(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
