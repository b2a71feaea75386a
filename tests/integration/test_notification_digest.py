"""The daily digest per desa on a real PostgreSQL: items accumulate, one digest per (desa, day), held messages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from services.notification.adapters.registry import open_channels
from services.notification.app import SPEC
from services.notification.bootstrap import Deps
from services.notification.domain.digests import NO_OFFICIAL, DigestPolicy
from services.notification.domain.dispatch import DispatchPolicy
from services.notification.domain.schedule import WITA
from services.notification.handlers.digests import make_due
from services.notification.handlers.dispatch import dispatch_once
from services.notification.settings import NotificationSettings
from shared import db, topology
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentWaitlisted,
    IdentityRejected,
    Nominator,
    Payload,
    Reason,
    decode,
    new_envelope,
)
from shared.regions import default_regions
from tests.notification_deps import deps_for
from tests.notification_deps import handle as handle_batch

pytestmark = pytest.mark.integration

PREFIX = "t."
DESA_A, DESA_B = "64.08.01.2001", "64.08.01.2002"
RT_A = Nominator(type="rt", name="Pak RT", region_code=DESA_A, phone="081298765432")
DISNAKER = Nominator(type="disnaker", name="Petugas", region_code="64.08", phone="081311112222")
REGIONS = default_regions()


@pytest.fixture
async def pool(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("notification")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 5)
    yield pool
    await pool.close()


def confirmed(desa: str, nominator: Nominator) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone="081234567890", desa_code=desa, nominator=nominator,
    )  # fmt: skip


def waitlisted(desa: str, nominator: Nominator) -> EnrolmentWaitlisted:
    return EnrolmentWaitlisted(
        nomination_id=uuid.uuid4(), programme_year=2026, position=3, full_name="Budi", phone="081234567891",
        desa_code=desa, nominator=nominator,
    )  # fmt: skip


def rejected(desa: str, nominator: Nominator) -> IdentityRejected:
    return IdentityRejected(
        nomination_id=uuid.uuid4(), reasons=(Reason(code="NIK_INVALID", detail="checksum"),), full_name="Siti Aminah",
        nominator=nominator, desa_code=desa,
    )  # fmt: skip


async def ingest(pool: asyncpg.Pool, *payloads: Payload) -> list[Any]:
    envs = [
        new_envelope(p, producer=topology.owner(p.topic), person_key=uuid.uuid4().hex, correlation_id=uuid.uuid4())
        for p in payloads
    ]
    await handle(pool, envs)
    return envs


async def handle(pool: asyncpg.Pool, envs: list[Any]) -> None:
    deps = deps_for(pool, digest=DigestPolicy(enabled=True, hold=True), regions=REGIONS)
    async with pool.acquire() as conn, conn.transaction():
        await handle_batch(deps, conn, envs)


def job(pool: asyncpg.Pool, at: datetime) -> Deps:
    return deps_for(pool, digest=DigestPolicy(enabled=True), regions=REGIONS, now=lambda: at)


async def events(pool: asyncpg.Pool) -> list[Any]:
    return [decode(v) for v in await pool.fetchval("SELECT coalesce(array_agg(value ORDER BY id), '{}') FROM outbox")]


async def test_one_digest_per_desa_and_day_with_the_news_and_the_rejections_to_fix(pool: asyncpg.Pool) -> None:
    envs = await ingest(
        pool, confirmed(DESA_A, RT_A), confirmed(DESA_A, RT_A), waitlisted(DESA_A, RT_A), rejected(DESA_A, RT_A),
        rejected(DESA_B, DISNAKER),
    )  # fmt: skip
    await handle(pool, envs[:2])  # a redelivered event adds nothing
    assert await make_due(job(pool, datetime(2026, 12, 1, 15, 59, tzinfo=WITA))) == 0  # before 16:00 WITA

    afternoon = datetime(2026, 12, 1, 16, 5, tzinfo=WITA)
    # Two replicas at once, then a rerun: still one digest per desa.
    made = await asyncio.gather(make_due(job(pool, afternoon)), make_due(job(pool, afternoon)))
    assert sum(made) == 2 and await make_due(job(pool, afternoon)) == 0
    digests = {r["desa_code"]: dict(r) for r in await pool.fetch("SELECT * FROM digests")}
    assert (digests[DESA_A]["items"], digests[DESA_A]["recipients"]) == (4, 1)
    assert (digests[DESA_B]["items"], digests[DESA_B]["recipients"]) == (1, 0)  # a Disnaker nominator: no official

    [digest] = await pool.fetch("SELECT * FROM deliveries WHERE purpose = 'daily_digest'")
    assert (digest["address"], digest["channel"], digest["digest_day"]) == (
        "+6281298765432",
        "local",
        date(2026, 12, 1),
    )
    assert "2 terdaftar, 1 daftar tunggu, 1 perlu diperbaiki" in digest["body"]
    # The desa official's rejection message is held for the digest; the Disnaker one went out on its own.
    statuses = {r["desa_code"]: r["status"] for r in await pool.fetch(
        "SELECT desa_code, status FROM deliveries WHERE purpose = 'identity_rejected'")}  # fmt: skip
    assert statuses == {DESA_A: "held", DESA_B: "pending"}


async def test_items_after_the_digest_wait_for_the_next_day(pool: asyncpg.Pool) -> None:
    await ingest(pool, confirmed(DESA_A, RT_A))
    assert await make_due(job(pool, datetime(2026, 12, 1, 16, 5, tzinfo=WITA))) == 1
    await ingest(pool, confirmed(DESA_A, RT_A))
    assert await make_due(job(pool, datetime(2026, 12, 1, 19, 0, tzinfo=WITA))) == 0
    assert await make_due(job(pool, datetime(2026, 12, 2, 16, 0, tzinfo=WITA))) == 1
    days = [r["day"] for r in await pool.fetch("SELECT day FROM digests ORDER BY day")]
    assert days == [date(2026, 12, 1), date(2026, 12, 2)]


async def test_a_sent_digest_resolves_its_held_messages_with_their_events(pool: asyncpg.Pool, tmp_path: Path) -> None:
    [env] = await ingest(pool, rejected(DESA_A, RT_A))
    await make_due(job(pool, datetime(2026, 12, 1, 16, 5, tzinfo=WITA)))
    settings = NotificationSettings(
        database_url="postgresql://unused/db", kafka_bootstrap="127.0.0.1:1", local_outbox_file=tmp_path / "m.jsonl"
    )
    async with open_channels(settings) as channels:
        assert await dispatch_once(deps_for(pool, settings, channels=channels)) == 1
    rows = {r["purpose"]: r for r in await pool.fetch("SELECT * FROM deliveries")}
    assert rows["daily_digest"]["status"] == "sent" and rows["identity_rejected"]["status"] == "sent"
    [sent] = await events(pool)  # the rejection's, not the digest's
    assert (sent.event_type, sent.payload.purpose, sent.causation_id) == (
        "NotificationSent", "identity_rejected", env.event_id
    )  # fmt: skip
    [line] = [orjson.loads(x) for x in (tmp_path / "m.jsonl").read_bytes().splitlines()]
    assert "Siti Aminah" in line["text"] or "perlu diperbaiki" in line["text"]


async def test_held_messages_fail_when_the_desa_has_no_official_to_send_the_digest_to(pool: asyncpg.Pool) -> None:
    await ingest(pool, rejected(DESA_A, RT_A))
    await pool.execute("DELETE FROM desa_contacts")  # the official's contact is gone
    await make_due(job(pool, datetime(2026, 12, 1, 16, 5, tzinfo=WITA)))
    assert await pool.fetchval("SELECT status FROM deliveries WHERE purpose = 'identity_rejected'") == "failed"
    [failed] = await events(pool)
    assert (failed.event_type, failed.payload.reason) == ("NotificationFailed", NO_OFFICIAL)


async def test_beyond_the_daily_limit_per_recipient_messages_fold_into_the_digest(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """2,000 rejected submissions sent 2,000 messages to one nominator's phone in three minutes. With a limit of 2
    a day: 2 go out, the official's others travel inside the desa's digest, a beneficiary's third waits a day."""
    deps = deps_for(pool, digest=DigestPolicy(enabled=True, hold=False), regions=REGIONS)
    envs = [
        new_envelope(p, producer="test", person_key=uuid.uuid4().hex, correlation_id=uuid.uuid4())
        for p in [rejected(DESA_A, RT_A) for _ in range(5)] + [confirmed(DESA_B, DISNAKER) for _ in range(3)]
    ]
    async with pool.acquire() as conn, conn.transaction():
        await handle_batch(deps, conn, envs)
    settings = NotificationSettings(
        database_url="postgresql://unused/db", kafka_bootstrap="127.0.0.1:1", local_outbox_file=tmp_path / "m.jsonl"
    )
    config = DispatchPolicy(recipient_daily_limit=2, digests=True)

    async def statuses(address: str) -> list[str]:
        rows = await pool.fetch(
            "SELECT status FROM deliveries WHERE address = $1 AND purpose <> 'daily_digest'", address
        )
        return sorted(r["status"] for r in rows)

    async with open_channels(settings) as channels:
        await dispatch_once(deps_for(pool, settings, channels=channels, dispatch=config))
        assert await statuses("+6281298765432") == ["held", "held", "held", "sent", "sent"]  # the RT official
        assert await statuses("+6281234567890") == ["pending", "sent", "sent"]  # the beneficiaries' phone
        waiting = await pool.fetchval(
            "SELECT next_attempt_at FROM deliveries WHERE address = '+6281234567890' AND status = 'pending'"
        )
        assert waiting.astimezone(WITA).date() > datetime.now(WITA).date()  # tomorrow, local time
        # a second round sends nothing more to them today
        await dispatch_once(deps_for(pool, settings, channels=channels, dispatch=config))
        assert await statuses("+6281298765432") == ["held", "held", "held", "sent", "sent"]
        # the day's digest carries the held ones, and sending it resolves them with their events
        today = datetime.now(WITA).replace(hour=16, minute=5)
        assert await make_due(job(pool, today)) >= 1
        await dispatch_once(deps_for(pool, settings, channels=channels, dispatch=config))
    assert await statuses("+6281298765432") == ["sent"] * 5
    lines = [orjson.loads(x) for x in (tmp_path / "m.jsonl").read_bytes().splitlines()]
    assert sum(1 for line in lines if line["to"] == "+6281298765432") == 3  # 2 messages + 1 digest
    sent = [
        e for e in await events(pool) if e.event_type == "NotificationSent" and e.payload.purpose == "identity_rejected"
    ]
    assert len(sent) == 5


async def test_a_desas_official_is_remembered_with_digests_off_too(pool: asyncpg.Pool) -> None:
    """The desa's officials are whom a lead (DAFTAR) and a quota shortfall are told: a regency that turns the digest
    off must not lose them (they were remembered only for the digest)."""
    envs = [
        new_envelope(p, producer=topology.owner(p.topic), person_key=uuid.uuid4().hex, correlation_id=uuid.uuid4())
        for p in (confirmed(DESA_A, RT_A), confirmed(DESA_B, DISNAKER))
    ]
    deps = deps_for(pool, digest=DigestPolicy(enabled=False), regions=REGIONS)
    async with pool.acquire() as conn, conn.transaction():
        await handle_batch(deps, conn, envs)
    rows = await pool.fetch("SELECT desa_code, routes -> 0 ->> 'address' AS address FROM desa_contacts")
    # Disnaker is the regency's, not a desa's official
    assert [(r["desa_code"], r["address"]) for r in rows] == [(DESA_A, "+6281298765432")]
    assert await pool.fetchval("SELECT count(*) FROM digest_items") == 0  # no digest: no items kept for one
