"""The providers' limits on us: at most ``concurrency`` calls in flight, and each channel's messages per second."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

from services.notification.domain.schedule import TokenBucket


class Throttle:
    """Shared by every send of this process (one per service, in its ``Deps``)."""

    def __init__(self, concurrency: int, rates: Mapping[str, float]) -> None:
        self._semaphore = asyncio.Semaphore(concurrency)
        self._buckets = {name: TokenBucket(rate) for name, rate in rates.items() if rate > 0}

    @contextlib.asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        """A call slot, once the channel's rate allows one more message."""
        async with self._semaphore:
            bucket = self._buckets.get(channel)
            if bucket is not None:
                await bucket.take()
            yield
