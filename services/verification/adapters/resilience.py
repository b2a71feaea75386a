"""Two small guards for calling a slow, rate-limited, sometimes-down service: a token bucket and a circuit breaker.

Both take their clock as a parameter so tests drive time instead of sleeping. Neither is thread-safe: they live in
one event loop. Why not a library: the candidates on PyPI are either synchronous (pybreaker) or unmaintained for
asyncio, and these are thirty lines each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal

Clock = Callable[[], float]
BreakerState = Literal["closed", "open", "half_open"]


class TokenBucket:
    """At most ``rate`` calls per second on average, bursts of up to ``capacity``."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self.rate, self.capacity = rate, capacity
        self._clock, self._sleep = clock, sleep
        self._tokens = capacity
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self) -> bool:
        """Take a token if one is there."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_time(self) -> float:
        """Seconds until the next token."""
        self._refill()
        return max(0.0, (1 - self._tokens) / self.rate)

    async def acquire(self) -> None:
        while not self.try_take():
            await self._sleep(self.wait_time())


class CircuitBreaker:
    """Stops calling a service that keeps failing, and tries again after a pause.

    closed: calls go through; ``failure_threshold`` consecutive failures open it. open: calls are refused until
    ``reset_timeout`` seconds passed, then half-open: one trial call goes through; its success closes the breaker,
    its failure opens it again for another ``reset_timeout``.
    """

    def __init__(self, failure_threshold: int, reset_timeout: float, clock: Clock = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold, self.reset_timeout = failure_threshold, reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """May a call go through now? In half-open state only one trial call at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True
            return True
        return False

    def record_success(self) -> None:
        self._failures, self._opened_at, self._trial = 0, None, False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial or self._failures >= self.failure_threshold:
            self._opened_at, self._trial, self._failures = self._clock(), False, 0
