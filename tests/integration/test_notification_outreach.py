"""Issue 15 in the notification service on a real PostgreSQL: the quota-shortfall consumer plans one message per
programme admin and per official of the listed desa (once per forecast), and claim reminders go out at cover start
and on the anniversary, never to an ended member nor twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from services.notification.app import SPEC
from services.notification.commands import RemindClaims
from services.notification.domain.digests import DigestPolicy
from services.notification.handlers import claims, shortfall
from services.notification.settings import NotificationSettings
from shared import db, messaging, topology
from shared.consumer import Consumer
from shared.contracts import (
    DesaShortfall,
    EnrolmentConfirmed,
    EnrolmentEnded,
    Nominator,
    Payload,
    QuotaShortfallForecast,
    encode,
    new_envelope,
)
from shared.regions import default_regions
from tests import signed
from tests.notification_deps import deps_for
from tests.notification_deps import handle as handle_batch

pytestmark = pytest.mark.integration

DESA_A, DESA_B = "64.08.01.2001", "64.08.01.2002"
RT_A = Nominator(type="rt", name="Pak RT", region_code=DESA_A, phone="081298765432")
DISNAKER = Nominator(type="disnaker", name="Petugas", region_code="64.08", phone="081311112222")
SETTINGS = NotificationSettings(
    database_url="postgresql://unused/db",
    kafka_bootstrap="127.0.0.1:1",
    topic_prefix="t.",
    programme_admin_contacts="admin@disnaker.example, 081377778888",
)


@pytest.fixture
async def pool(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("notification")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 5)
    yield pool
    await pool.close()


def deps(pool: asyncpg.Pool) -> Any:
    return deps_for(pool, SETTINGS, digest=DigestPolicy(enabled=True), regions=default_regions())


def confirmed(desa: str, nominator: Nominator, start: date, restored: uuid.UUID | None = None) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=start.year, coverage_start=start,
        full_name="Siti", phone="081234567890", desa_code=desa, nominator=nominator, restored_by_objection=restored,
    )  # fmt: skip


def ended(of: EnrolmentConfirmed, last_day: date) -> EnrolmentEnded:
    return EnrolmentEnded(
        nomination_id=of.nomination_id, membership_number=of.membership_number, funding_source=of.funding_source,
        programme_year=of.programme_year, reason="moved_out", coverage_end=last_day, full_name=of.full_name,
        phone=of.phone, desa_code=of.desa_code, nominator=of.nominator,
    )  # fmt: skip


async def ingest(pool: asyncpg.Pool, *payloads: Payload) -> list[Any]:
    envs = [
        new_envelope(p, producer=topology.owner(p.topic), person_key=uuid.uuid4().hex, correlation_id=uuid.uuid4())
        for p in payloads
    ]
    async with pool.acquire() as conn, conn.transaction():
        await handle_batch(deps(pool), conn, envs)
    return envs


async def deliveries(pool: asyncpg.Pool, purpose: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT nomination_id, address, desa_code, body, status FROM deliveries WHERE purpose = $1 ORDER BY address",
        purpose,
    )
    return [dict(r) for r in rows]


async def test_a_shortfall_is_told_to_the_admins_and_the_listed_desa_officials_once(pool: asyncpg.Pool) -> None:
    await ingest(pool, confirmed(DESA_A, RT_A, date(2026, 3, 1)), confirmed(DESA_B, DISNAKER, date(2026, 3, 1)))
    payload = QuotaShortfallForecast(
        forecast_id=uuid.uuid4(), funding_source="APBD-KAB", funding_source_name="APBD Kab. Kutai Timur",
        programme_year=2026, as_of=date(2026, 9, 30), quota=15000, enrolled=2655, forecast_enrolled=3300,
        seats_left=11700, unspent_rupiah=2_073_960_000, under_represented=("nelayan",),
        desa=(DesaShortfall(desa_code=DESA_A, nominations=1, eligible_population=0),
              DesaShortfall(desa_code=DESA_B, nominations=1, eligible_population=0)),
    )  # fmt: skip
    env = new_envelope(payload, producer="reporting", person_key="source:APBD-KAB", correlation_id=payload.forecast_id)
    for _ in range(2):  # a redelivered forecast plans nothing twice
        async with pool.acquire() as conn, conn.transaction():
            assert await shortfall.plan_shortfall(deps(pool), conn, [env]) == []
    told = await deliveries(pool, "quota_shortfall")
    # two admins and desa A's RT; desa B's nominator is Disnaker, not an official
    assert [(d["address"], d["desa_code"]) for d in told] == [
        ("+6281298765432", DESA_A), ("+6281377778888", None), ("admin@disnaker.example", None)
    ]  # fmt: skip
    assert all("11.700" in d["body"] and d["status"] == "pending" for d in told)
    assert "Rp2.073.960.000" in told[0]["body"]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0, "a shortfall message emits no event"


async def test_claim_reminders_at_cover_start_then_on_the_anniversary_and_never_after_an_end(
    pool: asyncpg.Pool,
) -> None:
    covered = confirmed(DESA_A, RT_A, date(2025, 3, 1))
    leaving = confirmed(DESA_A, RT_A, date(2025, 3, 1))
    restored = confirmed(DESA_A, RT_A, date(2025, 3, 1), restored=uuid.uuid4())
    await ingest(pool, covered, leaving, restored)
    at_start = {d["nomination_id"] for d in await deliveries(pool, "claim_reminder")}
    assert at_start == {covered.nomination_id, leaving.nomination_id}, "a restored seat is not told twice"
    await ingest(pool, ended(leaving, date(2025, 11, 30)))

    async def remind(today: date) -> int:
        made, _ = await messaging.run(deps(pool), claims.remind_due, RemindClaims(today=today))
        return int(made)

    assert await remind(date(2026, 2, 28)) == 0  # the day before the anniversary
    assert await remind(date(2026, 3, 1)) == 2  # the covered member and the restored one; not the ended one
    assert await remind(date(2026, 3, 2)) == 0  # once per anniversary
    told = await deliveries(pool, "claim_reminder")
    per_member = {n: sum(1 for d in told if d["nomination_id"] == n) for n in at_start | {restored.nomination_id}}
    assert per_member == {covered.nomination_id: 2, leaving.nomination_id: 1, restored.nomination_id: 1}
    assert sum(1 for d in told if "Pengingat tahunan" in d["body"]) == 2


def record(topic: str, offset: int, value: bytes, key: bytes, producer: str = "reporting") -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        topic=topic, partition=0, offset=offset, timestamp=0, timestamp_type=0, key=key, value=value,
        checksum=None, serialized_key_size=len(key), serialized_value_size=len(value),
        headers=signed.headers(topic, value, producer),
    )  # fmt: skip


async def test_the_forecasts_consumer_tells_once_and_dead_letters_malformed_and_forged_ones(pool: asyncpg.Pool) -> None:
    """Through ``shared.consumer`` as the service wires the ``forecasts`` group: a replay adds nothing, an
    undecodable value and a forecast signed by another service go to the dead letters, and processing goes on."""
    await ingest(pool, confirmed(DESA_A, RT_A, date(2026, 3, 1)))
    the_deps = deps(pool)

    async def handler(conn: Any, batch: Any) -> Any:
        return await shortfall.plan_shortfall(the_deps, conn, batch)

    topic = SETTINGS.topic_prefix + QuotaShortfallForecast.topic
    consumer: Consumer[Any] = Consumer(
        name="notification.forecasts", topic=topic, payload=QuotaShortfallForecast, handler=handler, pool=pool,
        topic_prefix=SETTINGS.topic_prefix,
    )  # fmt: skip
    payload = QuotaShortfallForecast(
        forecast_id=uuid.uuid4(), funding_source="APBD-PROV", funding_source_name="APBD Prov. Kaltim",
        programme_year=2026, as_of=date(2026, 10, 1), quota=5600, enrolled=100, forecast_enrolled=400,
        seats_left=5200, unspent_rupiah=1_000_000, desa=(DesaShortfall(desa_code=DESA_A, nominations=1,
        eligible_population=0),),
    )  # fmt: skip
    env = new_envelope(payload, producer="reporting", person_key="source:APBD-PROV", correlation_id=payload.forecast_id)
    value, key = encode(env), b"source:APBD-PROV"
    forged = encode(new_envelope(payload.model_copy(update={"forecast_id": uuid.uuid4()}), producer="reporting",
                                 person_key="source:APBD-PROV", correlation_id=payload.forecast_id))  # fmt: skip
    batch = [
        record(topic, 0, value, key),
        record(topic, 1, value, key),  # replayed
        record(topic, 2, b'{"event_type": "QuotaShortfallForecast", "payload": ', key),  # malformed
        record(topic, 3, forged, key, producer="notification"),  # forged: not the topic's owner
    ]
    await consumer.process(tuple(batch))
    await consumer.process(tuple(batch[:1]))  # redelivered after a rebalance
    told = await deliveries(pool, "quota_shortfall")
    assert [(d["address"], d["desa_code"]) for d in told] == [
        ("+6281298765432", DESA_A), ("+6281377778888", None), ("admin@disnaker.example", None)
    ]  # fmt: skip
    assert consumer.stats.dead_lettered == 2
    letters = await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'DeadLetter'")
    assert letters == 2
