"""The HTTP civil-registry adapter against the registry SIMULATOR served by uvicorn on 127.0.0.1, and what the
verification handler does when the registry cannot answer (pending, then decided by the retry)."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from services.verification.adapters.http import HttpRegistry, HttpRegistryConfig
from services.verification.adapters.resilience import CircuitBreaker
from services.verification.handlers import decide
from services.verification.repository.registry import REGISTRY_COLUMNS
from shared.contracts import IdentityRejected, IdentityVerified
from simulators.registry_http import create_simulator, read_registry
from tests.integration.test_verification_handler import (
    CLEAN,
    DECEASED,
    INACTIVE,
    LATER,
    NOT_REGISTERED_NIK,
    TWICE,
    consumer_of,
    dsn,  # noqa: F401  (fixture)
    emitted,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    submitted,
)

pytestmark = pytest.mark.integration

PEOPLE = [CLEAN, DECEASED, INACTIVE, LATER, TWICE]
USER, PASSWORD = "payung", "sandi-uji"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    """The simulator on a free port of 127.0.0.1: (base URL, its state)."""
    path = tmp_path / "registry.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REGISTRY_COLUMNS)
        writer.writerows(p.row() for p in PEOPLE)
    app = create_simulator(read_registry(path), USER, PASSWORD)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(400):  # until uvicorn listens (a condition, polled)
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started, "the simulator did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app.state.simulator
    finally:
        server.should_exit = True
        await task


def config(url: str, **changes: Any) -> HttpRegistryConfig:
    base = {"url": url, "user_id": USER, "password": PASSWORD, "timeout_s": 5.0, "rate_per_s": 1000.0,
            "burst": 100, "attempts": 2, "backoff_s": 0.01, "backoff_max_s": 0.02, "concurrency": 1}  # fmt: skip
    return HttpRegistryConfig(**(base | changes))


async def registry(url: str, db_pool: asyncpg.Pool | None = None, **changes: Any) -> HttpRegistry:
    breaker = changes.pop("breaker", None)
    return HttpRegistry(config(url, **changes), db_pool, breaker=breaker)


def states(answer: Any, niks: list[str]) -> list[str]:
    return [answer.state(n) for n in niks]


async def test_match_not_found_deceased_inactive_and_the_cache(simulator, pool):  # noqa: F811
    url, sim = simulator
    reg = await registry(url, pool)
    try:
        niks = [CLEAN.nik, NOT_REGISTERED_NIK, DECEASED.nik, INACTIVE.nik]
        answer = await reg.lookup(niks)
        assert states(answer, niks) == ["match", "no_match", "deceased", "inactive"]
        assert answer.records[CLEAN.nik].full_name == CLEAN.name and answer.records[CLEAN.nik].no_kk
        assert answer.records[CLEAN.nik].birth_date == CLEAN.born and answer.snapshot_id is None
        assert sim.requests == 4
        again = await reg.lookup(niks)  # definite answers come from the cache table
        assert states(again, niks) == states(answer, niks) and sim.requests == 4
        assert again.records == answer.records
        assert await pool.fetchval("SELECT count(*) FROM registry_cache") == 4
    finally:
        await reg.aclose()


async def test_an_outage_is_unavailable_opens_the_breaker_and_recovers(simulator):
    url, sim = simulator
    clock = Clock()
    reg = await registry(url, breaker=CircuitBreaker(2, 30, clock=clock))
    try:
        sim.faults.down = True
        niks = [CLEAN.nik, LATER.nik, TWICE.nik]
        answer = await reg.lookup(niks)
        assert states(answer, niks) == ["registry_unavailable"] * 3 and answer.records == {}
        # two NIKs tried twice each (503 is retried), then the breaker opened and the third was never sent
        assert sim.requests == 4 and reg.breaker.state == "open"
        sim.faults.down = False
        assert states(await reg.lookup(niks), niks) == ["registry_unavailable"] * 3 and sim.requests == 4
        clock.now += 30  # the pause is over: one trial call closes the breaker again
        assert states(await reg.lookup(niks), niks) == ["match"] * 3
        assert reg.breaker.state == "closed"
    finally:
        await reg.aclose()


async def test_a_slow_answer_times_out_and_is_unavailable(simulator):
    url, sim = simulator
    reg = await registry(url, timeout_s=0.2, attempts=1)
    try:
        sim.faults.delay_s = 1.0
        answer = await reg.lookup([CLEAN.nik])
        assert answer.state(CLEAN.nik) == "registry_unavailable" and sim.requests == 1
    finally:
        sim.faults.delay_s = 0.0
        await reg.aclose()


async def test_throttling_quota_and_refused_logins_are_unavailable_never_not_found(simulator):
    url, sim = simulator
    reg = await registry(url, breaker_failures=100)
    try:
        sim.faults.throttle = True
        assert (await reg.lookup([CLEAN.nik])).state(CLEAN.nik) == "registry_unavailable"
        assert sim.requests == 2  # 429 is retried with backoff
        sim.faults.throttle = False
        sim.faults.quota_left = 1
        first, second = sorted([LATER.nik, TWICE.nik])
        answer = await reg.lookup([first, second])
        assert states(answer, [first, second]) == ["match", "registry_unavailable"]  # "daily quota exhausted"
        sim.faults.quota_left = None
        sim.faults.ip_allowed = False
        assert (await reg.lookup([DECEASED.nik])).state(DECEASED.nik) == "registry_unavailable"
        sim.faults.ip_allowed = True
    finally:
        await reg.aclose()
    wrong = HttpRegistry(config(url, password="salah", breaker_failures=2), None)
    try:
        before = sim.requests
        niks = [CLEAN.nik, LATER.nik, TWICE.nik]
        answer = await wrong.lookup(niks)  # "login failed", not retried; it stops the calls like an outage
        assert states(answer, niks) == ["registry_unavailable"] * 3
        assert sim.requests == before + 2 and wrong.breaker.state == "open"
    finally:
        await wrong.aclose()


async def test_nominations_wait_while_the_registry_cannot_answer_and_are_decided_by_the_retry(simulator, pool):  # noqa: F811
    url, sim = simulator
    reg = await registry(url, pool, breaker_failures=100)
    deps = make_deps(pool, reg, pending_retry_base_s=60)
    consumer = consumer_of(deps, max_attempts=1)
    try:
        first, second = sorted([CLEAN, DECEASED], key=lambda p: p.nik)
        sim.faults.quota_left = 1  # the registry answers the first NIK, then its quota is exhausted
        waiting, decided = submitted(second), submitted(first)
        await consumer.process(records([waiting, decided]))

        out = await emitted(pool)
        assert [env.correlation_id for _t, _k, env in out] == [decided.payload.nomination_id]
        row = await pool.fetchrow("SELECT * FROM verifications WHERE nomination_id = $1", waiting.payload.nomination_id)
        assert row["outcome"] == "pending" and row["event_id"] is None
        pending = await pool.fetchrow("SELECT * FROM pending_lookups")
        assert pending["nomination_id"] == waiting.payload.nomination_id
        # a redelivery of the waiting nomination does not decide it twice
        await consumer.process(records([waiting]))
        assert len(await emitted(pool)) == 1

        assert await decide.retry_due(deps, 100) == 0  # not due yet
        sim.faults.quota_left = None
        await pool.execute("UPDATE pending_lookups SET next_attempt_at = now()")
        sim.faults.down = True  # still down at the first retry: rescheduled later, attempts counted
        assert await decide.retry_due(deps, 100) == 1
        again = await pool.fetchrow("SELECT attempts, next_attempt_at > now() AS later FROM pending_lookups")
        assert again["attempts"] == 1 and again["later"]
        sim.faults.down = False
        await pool.execute("UPDATE pending_lookups SET next_attempt_at = now()")
        assert await decide.retry_due(deps, 100) == 1

        assert await pool.fetchval("SELECT count(*) FROM pending_lookups") == 0
        out = await emitted(pool)
        assert len(out) == 2
        _topic, _key, env = out[-1]
        assert env.correlation_id == waiting.payload.nomination_id and env.causation_id == waiting.event_id
        expected = IdentityRejected if second is DECEASED else IdentityVerified
        assert isinstance(env.payload, expected)
        row = await pool.fetchrow("SELECT * FROM verifications WHERE nomination_id = $1", waiting.payload.nomination_id)
        assert row["outcome"] in ("verified", "rejected") and row["event_id"] == env.event_id
    finally:
        await reg.aclose()


async def test_the_registry_is_never_called_while_a_transaction_is_open(simulator, pool, dsn):  # noqa: F811
    """The consumer asks the registry in its prepare step and the retry job before its transaction: at every
    request sent, no connection to the service's database has a transaction open (row locks held while a remote
    service answers, or times out, would stall every other writer)."""
    url, sim = simulator
    watcher = await asyncpg.connect(dsn)
    open_at_request: list[int] = []

    async def no_transaction_open(request: httpx.Request) -> None:
        open_at_request.append(
            await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
        )

    client = httpx.AsyncClient(base_url=url, timeout=5.0, event_hooks={"request": [no_transaction_open]})
    reg = HttpRegistry(config(url), pool, client=client, breaker=CircuitBreaker(100, 60))
    deps = make_deps(pool, reg, pending_retry_base_s=60)
    try:
        first, second = sorted([CLEAN, INACTIVE], key=lambda p: p.nik)
        sim.faults.quota_left = 1  # the second NIK waits for the retry job
        waiting, decided = submitted(second), submitted(first)
        await consumer_of(deps, max_attempts=1).process(records([waiting, decided]))
        assert await pool.fetchval("SELECT count(*) FROM pending_lookups") == 1
        sim.faults.quota_left = None
        await pool.execute("UPDATE pending_lookups SET next_attempt_at = now()")
        assert await decide.retry_due(deps, 100) == 1
        assert await pool.fetchval("SELECT count(*) FROM pending_lookups") == 0
        assert len(open_at_request) >= 3 and set(open_at_request) == {0}, open_at_request
    finally:
        await reg.aclose()
        await watcher.close()


async def test_the_simulator_reports_its_state(simulator):
    url, _sim = simulator
    async with httpx.AsyncClient(base_url=url) as client:
        faults = await client.post("/_simulator/faults", json={"delay_s": 0})
        assert faults.json()["down"] is False
        assert (await client.get("/_simulator/stats")).json() == {"requests": 0, "people": len(PEOPLE)}
