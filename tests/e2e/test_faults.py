"""The short fault suite (CI): the Kafka broker and PostgreSQL restart in the middle of a stream of nominations.

The full suite (``python -m bench.faults``, 20,000 nominations, every service SIGKILLed too) is documented in
docs/RELIABILITY.md; SIGKILL of each service in CI is tests/e2e/test_crash.py. Here the infrastructure itself goes
away: the test instance's broker (controlled stop, a few seconds down) and its PostgreSQL (fast shutdown). Clients
retry with their Idempotency-Key through refused connections and 5xx, as a careful client does.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from bench.faults import restart_kafka, restart_postgres
from deploy.native import kafka
from deploy.native.config import SERVICES, StackTestConfig
from tests.e2e.pipeline import FINAL, wait_for

# A long check (minutes on two cores): `./payung test --long` or `bash .ci/long`, outside CI (README, "Evidence").
pytestmark = [pytest.mark.e2e, pytest.mark.long]

STREAM = 120


@pytest.fixture
def native_instance() -> StackTestConfig:
    cfg = StackTestConfig()
    if kafka.current_pid(cfg) is None:
        pytest.skip("needs the native test instance (./payung test): it restarts its broker and database")
    return cfg


async def _submit_retrying(pipeline, client, request, key: str, timeout: float = 240) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = await pipeline.submit(client, request, key)
            if response.status_code < 500:
                return response
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("no answer through the outage")
        await asyncio.sleep(0.5)


async def test_broker_and_database_restart_mid_stream(pipeline, people, client, native_instance):
    batch = people.take_mix(STREAM)
    keys = [str(uuid.uuid4()) for _ in batch]
    answers: dict[int, httpx.Response] = {}

    async def submit_all() -> None:
        for index, (item, key) in enumerate(zip(batch, keys, strict=True)):
            answers[index] = await _submit_retrying(pipeline, client, item.request, key)
            await asyncio.sleep(0.02)

    async def answered(count: int) -> bool:
        return len(answers) >= count

    async def outages() -> None:
        await wait_for(lambda: answered(STREAM // 4), "the stream to be under way")
        await asyncio.to_thread(restart_kafka, native_instance, 3)
        await wait_for(lambda: answered(STREAM // 2), "the stream to go on after the broker restart", timeout=240)
        await pipeline.close()  # this test's own connections die with the server
        pipeline.pools.clear()
        await asyncio.to_thread(restart_postgres, native_instance, 2)

    await asyncio.gather(submit_all(), outages())

    for index, item in enumerate(batch):
        expected = {"duplicate": 409, "invalid": 422}.get(item.expected, 202)
        assert answers[index].status_code == expected, (item.fault, answers[index].text)
    accepted = [uuid.UUID(answers[i].json()["nomination_id"]) for i in answers if answers[i].status_code == 202]

    async def all_final_and_told() -> bool:
        views = [await pipeline.nomination(client, str(nid)) for nid in accepted]
        return all(
            v["status"] == "notified"
            or (v["status"] in FINAL and any(h["stage"] == "notification_failed" for h in v["history"]))
            for v in views
        )

    await wait_for(all_final_and_told, "every nomination of the stream to be decided and told", timeout=300)

    # Exactly once: one verification, at most one seat or waitlist place, one message per nomination.
    ids = accepted
    assert await pipeline.fetchval(
        "verification", "SELECT count(*) FROM verifications WHERE nomination_id = ANY($1::uuid[])", ids
    ) == len(ids)
    seated = await pipeline.fetchval("enrolment", "SELECT count(*) FROM seats WHERE nomination_id = ANY($1)", ids)
    waiting = await pipeline.fetchval("enrolment", "SELECT count(*) FROM waitlist WHERE nomination_id = ANY($1)", ids)
    verified = await pipeline.fetchval(
        "verification",
        "SELECT count(*) FROM verifications WHERE nomination_id = ANY($1) AND outcome = 'verified'",
        ids,
    )
    assert seated + waiting == verified
    assert await pipeline.fetchval("enrolment", "SELECT count(*) - count(DISTINCT nik) FROM seats") == 0
    assert await pipeline.fetchval("enrolment", "SELECT count(*) - count(DISTINCT nik) FROM waitlist") == 0
    assert await pipeline.fetchval("enrolment", "SELECT count(*) FROM funding_sources WHERE used > quota") == 0
    assert await pipeline.fetchval("enrolment", "SELECT sum(used) FROM funding_sources") == await pipeline.fetchval(
        "enrolment", "SELECT count(*) FROM seats"
    )
    twice = await pipeline.fetchval(
        "notification",
        """
        SELECT count(*) FROM (SELECT nomination_id, purpose, recipient_role FROM deliveries
                              WHERE nomination_id = ANY($1) GROUP BY 1, 2, 3 HAVING count(*) > 1) AS t
        """,
        ids,
    )
    assert twice == 0

    # Nothing stuck: every outbox drains.
    async def drained() -> bool:
        return all([await pipeline.fetchval(s, "SELECT count(*) = 0 FROM outbox") for s in SERVICES])

    await wait_for(drained, "every outbox to drain", timeout=120)
