"""The nomination service's status machine on real PostgreSQL, through the real consumer: contradicting events are
dead-lettered as ``inconsistent``; an ended nomination does not block a new one for the same person."""

from __future__ import annotations

import asyncio
import functools
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord

from services.nomination import bootstrap
from services.nomination.app import SPEC, create
from services.nomination.handlers import progress
from services.nomination.settings import NominationSettings
from shared import db, outbox, topology
from shared.auth import hash_api_key, new_api_key
from shared.consumer import Consumer
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    Envelope,
    IdentityRejected,
    IdentityVerified,
    Nominator,
    Payload,
    Reason,
    encode,
    new_envelope,
)
from shared.keys import person_key
from shared.service import Runtime
from tests import signed

pytestmark = pytest.mark.integration

DESA = "64.08.01.2001"
SECRET = "integration-secret-0123456789"
KEY = new_api_key()
PREFIX = "t."
SETTINGS = NominationSettings(
    database_url="postgresql://unused/unused",
    kafka_bootstrap="unused:9092",
    person_key_secret=SECRET,
    topic_prefix=PREFIX,
)
NOMINATOR = Nominator(type="desa", name="Kepala Desa", region_code=DESA)
_offsets = itertools.count()


def request(nik: str) -> dict[str, Any]:
    return {
        "nik": nik,
        "full_name": "Siti Rahmawati",
        "birth_date": "1990-01-05",
        "sex": "F",
        "phone": "081234567890",
        "address": {"kecamatan_code": "64.08.01", "desa_code": DESA, "rt": "003", "rw": "002"},
        "occupation": "nelayan",
        "nominator": {"type": "desa", "name": "Kepala Desa", "region_code": DESA},
        "supporting_letter": {"number": "140/12/DS/2026", "date": "2026-01-10", "issuer": "Kepala Desa"},
    }


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("nomination_progress")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    settings = NominationSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        person_key_secret=SECRET,
        topic_prefix=PREFIX,
        api_keys={hash_api_key(KEY): {"name": "admin", "role": "programme_admin"}},
    )
    app = create(settings)
    relay = outbox.OutboxRelay("postgresql://unused/unused", producer=None)  # type: ignore[arg-type]  # never run
    deps = bootstrap.make(pool, settings)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=relay, broker=None, deps=deps)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://n", headers={"X-API-Key": KEY}) as client:
        yield client


def progress_consumer(pool: asyncpg.Pool) -> Consumer[Any]:
    """The nomination service's own consumer of downstream events (as shared/service.py wires it)."""
    subscribed = (IdentityVerified, IdentityRejected, EnrolmentConfirmed, EnrolmentEnded, EnrolmentRefused)
    first, *more = subscribed
    return Consumer(
        name="nomination.progress",
        topic=PREFIX + first.topic,
        payload=first,
        handler=functools.partial(progress.record_progress, bootstrap.make(pool, SETTINGS)),
        pool=pool,
        inbox_name=f"nomination.{first.topic}",
        more={PREFIX + p.topic: (p, f"nomination.{p.topic}") for p in more},
    )


def event(payload: Payload, nik: str) -> Envelope[Any]:
    nomination_id = payload.nomination_id  # type: ignore[attr-defined]
    producer = topology.owner(payload.topic)
    return new_envelope(payload, producer=producer, person_key=person_key(nik, SECRET), correlation_id=nomination_id)


def record(env: Envelope[Any]) -> ConsumerRecord[bytes, bytes]:
    topic, value, key = PREFIX + env.payload.topic, encode(env), env.person_key.encode()
    return ConsumerRecord(
        topic, 0, next(_offsets), 0, 0, key, value, None, len(key), len(value), signed.headers(topic, value)
    )


def verified(nomination_id: uuid.UUID, nik: str) -> IdentityVerified:
    return IdentityVerified(
        nomination_id=nomination_id, nik=nik, full_name="Siti Rahmawati", birth_date=date(1990, 1, 5), sex="F",
        phone="+6281234567890", desa_code=DESA, occupation="nelayan", nominator=NOMINATOR, programme_regency="64.08",
        name_score=100,
    )  # fmt: skip


def confirmed(nomination_id: uuid.UUID) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=nomination_id, membership_number="26000000001", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone="+6281234567890", desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def ended(nomination_id: uuid.UUID) -> EnrolmentEnded:
    return EnrolmentEnded(
        nomination_id=nomination_id, membership_number="26000000001", funding_source="APBD-KAB", programme_year=2026,
        reason="opted_out", coverage_end=date(2026, 12, 31), full_name="Siti", phone="+6281234567890",
        desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def refused(nomination_id: uuid.UUID) -> EnrolmentRefused:
    return EnrolmentRefused(
        nomination_id=nomination_id, programme_year=2026, refusal_code="PU_ACTIVE",
        refusal_reason="Sudah terdaftar sebagai peserta Penerima Upah", full_name="Siti", desa_code=DESA,
        nominator=NOMINATOR,
    )  # fmt: skip


def rejected(nomination_id: uuid.UUID) -> IdentityRejected:
    reasons = (Reason(code="DECEASED", detail="registry: deceased"),)
    return IdentityRejected(
        nomination_id=nomination_id, reasons=reasons, full_name="Siti", nominator=NOMINATOR, desa_code=DESA
    )


async def dead_letters(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT headers FROM outbox WHERE event_type = 'DeadLetter' ORDER BY id")
    return [dict(outbox.unpack_headers(r["headers"]))["x-dlq-error-type"].decode() for r in rows]  # stored as bytes


async def status(pool: asyncpg.Pool, nomination_id: uuid.UUID) -> tuple[str, str | None]:
    row = await pool.fetchrow("SELECT status, outcome FROM nominations WHERE id = $1", nomination_id)
    return row["status"], row["outcome"]


async def test_a_person_whose_cover_ended_can_be_nominated_again(api: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    nik = "6408014501900001"
    first = await api.post("/v1/nominations", json=request(nik))
    assert first.status_code == 202, first.text
    nomination_id = uuid.UUID(first.json()["nomination_id"])
    consumer = progress_consumer(pool)
    await consumer.process(
        [record(event(verified(nomination_id, nik), nik)), record(event(confirmed(nomination_id), nik))]
    )
    assert (await api.post("/v1/nominations", json=request(nik))).status_code == 409  # enrolled: still live

    await consumer.process([record(event(ended(nomination_id), nik))])
    assert await status(pool, nomination_id) == ("ended", "ended")
    again = await api.post("/v1/nominations", json=request(nik))
    assert again.status_code == 202, again.text
    assert again.json()["nomination_id"] != str(nomination_id)
    # The new nomination is live: a third submission is refused, through the batch route too.
    assert (await api.post("/v1/nominations", json=request(nik))).status_code == 409
    batch = await api.post("/v1/nominations:batch", json={"items": [{"nomination": request(nik)}]})
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["status"] == 409, batch.text


async def test_events_that_contradict_the_status_change_nothing_and_are_dead_lettered(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    nik = "6408014501900002"
    response = await api.post("/v1/nominations", json=request(nik))
    nomination_id = uuid.UUID(response.json()["nomination_id"])
    consumer = progress_consumer(pool)
    await consumer.process([record(event(rejected(nomination_id), nik))])
    never_issued = uuid.uuid4()
    await consumer.process(
        [
            record(event(confirmed(nomination_id), nik)),  # rejected -> enrolled
            record(event(ended(nomination_id), nik)),  # rejected -> ended
            record(event(confirmed(never_issued), nik)),  # an outcome for a nomination this service never issued
        ]
    )
    assert await status(pool, nomination_id) == ("rejected", "rejected")
    assert await dead_letters(pool) == ["inconsistent"] * 3
    assert await pool.fetchval("SELECT count(*) FROM nominations WHERE id = $1", never_issued) == 0
    stages = await pool.fetch("SELECT stage FROM nomination_history WHERE nomination_id = $1", nomination_id)
    assert [s["stage"] for s in stages] == ["rejected"]


async def test_a_registration_bpjs_refused_is_refused_frees_the_person_and_never_becomes_enrolled(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    nik = "6408014501900003"
    first = await api.post("/v1/nominations", json=request(nik))
    nomination_id = uuid.UUID(first.json()["nomination_id"])
    consumer = progress_consumer(pool)
    await consumer.process(
        [record(event(verified(nomination_id, nik), nik)), record(event(refused(nomination_id), nik))]
    )
    assert await status(pool, nomination_id) == ("refused", "refused")
    shown = await api.get(f"/v1/nominations/{nomination_id}")
    assert shown.status_code == 200 and shown.json()["status"] == "refused", shown.text
    await consumer.process([record(event(confirmed(nomination_id), nik))])  # refused -> enrolled: impossible
    assert await status(pool, nomination_id) == ("refused", "refused")
    assert await dead_letters(pool) == ["inconsistent"]
    # the official corrects the case and nominates again: the refused nomination does not block it
    again = await api.post("/v1/nominations", json=request(nik))
    assert again.status_code == 202, again.text
