"""Helpers of the enrolment lifecycle and BPJS tests: settings, events, records and what the outbox holds."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from services.enrolment.adapters.bpjs_http import HttpBpjsClient
from services.enrolment.adapters.local_issuer import LocalNumberIssuer
from services.enrolment.bootstrap import Deps, make_deps
from services.enrolment.commands import SyncFundingSources
from services.enrolment.handlers import funding, seating
from services.enrolment.settings import EnrolmentSettings, FundingSourceConfig
from shared import keys, messaging, topics
from shared.consumer import Consumer
from shared.contracts import (
    Envelope,
    IdentityVerified,
    Nominator,
    PersonChange,
    RegistryPersonUpdated,
    decode,
    encode,
    new_envelope,
)
from tests import signed

PREFIX = "t."
SECRET = "test-secret-0123456789"
NOMINATOR = Nominator(type="desa", name="Kepala Desa Sepaku", region_code="64.09.04.2001")
_offsets = iter(range(10**9))


def make_settings(
    dsn: str, quotas: Sequence[tuple[str, int]] = (("APBD-KAB", 2), ("APBD-PROV", 1)), **kw: Any
) -> EnrolmentSettings:
    sources = [
        FundingSourceConfig(code=code, name=f"Dana {code}", quota=quota, priority=i + 1, premium_idr=16800)
        for i, (code, quota) in enumerate(quotas)
    ]
    options: dict[str, Any] = {"kafka_bootstrap": "unused:9092", "topic_prefix": PREFIX} | kw
    return EnrolmentSettings(database_url=dsn, funding_sources=sources, **options)


def deps_for(
    pool: asyncpg.Pool, settings: EnrolmentSettings, local: bool = True, bpjs: HttpBpjsClient | None = None
) -> Deps:
    """The service's deps over ``pool``; ``local``: seats numbered at once (else they wait for BPJS)."""
    return dataclasses.replace(make_deps(pool, settings, bpjs), issuer=LocalNumberIssuer() if local else None)


async def sync(pool: asyncpg.Pool, settings: EnrolmentSettings) -> int:
    """The funding source configuration into the database, as at startup; how many were promoted."""
    return await messaging.run(deps_for(pool, settings), funding.sync_funding_sources, SyncFundingSources())


def nik(i: int) -> str:
    return f"640904{i:010d}"


def verified(i: int) -> Envelope[IdentityVerified]:
    nomination_id = uuid.uuid4()
    payload = IdentityVerified(
        nomination_id=nomination_id,
        nik=nik(i),
        full_name=f"Siti Aminah {i}",
        birth_date=date(1980, 5, 17),
        sex="F",
        phone="+6281234567890",
        desa_code="64.09.04.2001",
        occupation="petani_pekebun",
        nominator=NOMINATOR,
        programme_regency="64.09",
        name_score=97.5,
    )
    return signed.proven(
        new_envelope(
            payload, producer="verification", person_key=keys.person_key(nik(i), SECRET), correlation_id=nomination_id
        )
    )


def person_updated(
    person: Envelope[IdentityVerified], change: PersonChange, effective: date
) -> Envelope[RegistryPersonUpdated]:
    p = person.payload
    payload = RegistryPersonUpdated(
        nomination_id=p.nomination_id,
        nik=p.nik,
        change=change,
        effective_date=effective,
        new_regency="64.72" if change == "moved_out" else None,
        snapshot_id=7,
    )
    return new_envelope(payload, producer="verification", person_key=person.person_key, correlation_id=p.nomination_id)


def records(topic: str, envelopes: Sequence[Envelope[Any]]) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for env in envelopes:
        key, value = env.person_key.encode(), encode(env)
        out.append(
            ConsumerRecord(
                PREFIX + topic, 0, next(_offsets), 0, 0, key, value, None, len(key), len(value),
                signed.headers(PREFIX + topic, value),
            )
        )  # fmt: skip
    return out


async def enrol(
    pool: asyncpg.Pool, settings: EnrolmentSettings, people: Sequence[Envelope[IdentityVerified]], local: bool = True
) -> None:
    """People through the real ``identity.verified`` consumer (inbox, outbox, one transaction)."""
    deps = deps_for(pool, settings, local)

    async def handler(conn: Any, events: Sequence[Envelope[IdentityVerified]]) -> list[Envelope[Any]]:
        return await seating.seat_verified(deps, conn, events)

    consumer = Consumer(
        name="enrolment.identity.verified",
        topic=settings.topic(topics.IDENTITY_VERIFIED),
        payload=IdentityVerified,
        handler=handler,
        pool=pool,
        max_attempts=2,
        topic_prefix=settings.topic_prefix,
    )
    await consumer.process(records(topics.IDENTITY_VERIFIED, people))


async def emitted(pool: asyncpg.Pool, event_type: str | None = None) -> list[Envelope[Any]]:
    rows = await pool.fetch("SELECT value FROM outbox ORDER BY id")
    envelopes = [decode(r["value"]) for r in rows]
    return [e for e in envelopes if event_type is None or e.event_type == event_type]


async def seat_status(pool: asyncpg.Pool, person: Envelope[IdentityVerified]) -> str | None:
    return await pool.fetchval(
        "SELECT status FROM seats WHERE nomination_id = $1 ORDER BY programme_year DESC LIMIT 1",
        person.payload.nomination_id,
    )


async def used(pool: asyncpg.Pool, year: int = 2026) -> dict[str, int]:
    rows = await pool.fetch("SELECT code, used FROM funding_sources WHERE programme_year = $1", year)
    return {r["code"]: r["used"] for r in rows}


async def waiting(pool: asyncpg.Pool, year: int = 2026) -> int:
    return int(await pool.fetchval("SELECT waiting FROM waitlist_years WHERE programme_year = $1", year) or 0)


async def live_seats(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM seats WHERE status IN ('pending_bpjs', 'active')"))
