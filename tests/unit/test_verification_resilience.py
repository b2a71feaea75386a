"""The token bucket and the circuit breaker, driven by a fake clock (no sleeping)."""

import asyncio

import pytest

from services.verification.adapters.resilience import CircuitBreaker, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, capacity=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_time() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.try_take() and not bucket.try_take()
    clock.now += 100  # a long pause refills up to the capacity, not beyond
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]


def test_acquire_waits_exactly_as_long_as_the_rate_demands():
    clock = Clock()
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.now += seconds

    bucket = TokenBucket(rate=4, capacity=1, clock=clock, sleep=fake_sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()

    asyncio.run(take(3))
    assert waited == [pytest.approx(0.25), pytest.approx(0.25)]


def test_a_bucket_refuses_impossible_settings():
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, capacity=0.5)


def test_the_breaker_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=30, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success in between starts the count again
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()


def test_half_open_lets_one_trial_through_and_its_outcome_decides():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=30, clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 29.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.record_failure()  # the trial failed: open again at once, not after three more failures
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()
