"""The enrolment HTTP API on real PostgreSQL, with state made by the real handler."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.enrolment.api import rest
from services.enrolment.app import SPEC
from services.enrolment.handlers import seating
from services.enrolment.settings import EnrolmentSettings, FundingSourceConfig
from shared import db, keys, outbox
from shared.contracts import Envelope, IdentityVerified, Nominator, new_envelope
from shared.service import Runtime
from tests import signed
from tests.integration.enrolment_support import deps_for, sync
from tests.operator import authenticate_operator

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def settings(pool: asyncpg.Pool) -> EnrolmentSettings:
    settings = EnrolmentSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        funding_sources=[
            FundingSourceConfig(code="APBD-KAB", name="APBD Kabupaten", quota=2, priority=1, premium_idr=16800),
            FundingSourceConfig(code="APBD-PROV", name="APBD Provinsi", quota=1, priority=2, premium_idr=17500),
        ],
    )
    await sync(pool, settings)
    return settings


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: EnrolmentSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(rest.router)
    # Only what the routes use: the API needs neither Kafka nor the relay.
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = deps_for(pool, settings)
    headers = authenticate_operator(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://enrolment", headers=headers
    ) as c:
        yield c


def verified(i: int) -> Envelope[IdentityVerified]:
    nik, nomination_id = f"640904{i:010d}", uuid.uuid4()
    payload = IdentityVerified(
        nomination_id=nomination_id,
        nik=nik,
        full_name=f"Rahmawati Binti Usman {i}",
        birth_date=date(1975, 1, 2),
        sex="F",
        phone="+6281234567890",
        desa_code="64.09.04.2001",
        occupation="nelayan",
        nominator=Nominator(type="rt", name="Ketua RT 03", region_code="64.09.04.2001"),
        programme_regency="64.09",
        name_score=100,
    )
    return signed.proven(
        new_envelope(
            payload, producer="verification", person_key=keys.person_key(nik, "s" * 16), correlation_id=nomination_id
        )
    )


async def enrol(pool: asyncpg.Pool, settings: EnrolmentSettings, events: list[Envelope[IdentityVerified]]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        produced = await seating.seat_verified(deps_for(pool, settings), conn, events)
        await outbox.add_events(conn, produced, settings.topic_prefix)


async def test_funding_sources_show_quota_use_and_money(client, pool, settings) -> None:
    await enrol(pool, settings, [verified(i) for i in range(3)])  # KAB full, PROV 1 of 1

    body = (await client.get("/v1/funding-sources")).json()
    assert body["programme_year"] == 2026
    assert body["sources"] == [
        {
            "code": "APBD-KAB", "name": "APBD Kabupaten", "programme_year": 2026, "priority": 1,
            "quota": 2, "used": 2, "remaining": 0, "premium_idr": 16800,
            "monthly_committed_idr": 2 * 16800, "yearly_allocated_idr": 2 * 16800 * 12,
        },
        {
            "code": "APBD-PROV", "name": "APBD Provinsi", "programme_year": 2026, "priority": 2,
            "quota": 1, "used": 1, "remaining": 0, "premium_idr": 17500,
            "monthly_committed_idr": 17500, "yearly_allocated_idr": 17500 * 12,
        },
    ]  # fmt: skip
    other_year = (await client.get("/v1/funding-sources", params={"programme_year": 2025})).json()
    assert other_year == {"programme_year": 2025, "sources": []}


async def test_an_enrolment_shows_its_seat_or_its_current_place_in_line(client, pool, settings) -> None:
    people = [verified(i) for i in range(6)]  # 3 seats, then positions 1, 2, 3
    await enrol(pool, settings, people)

    seat = (await client.get(f"/v1/enrolments/{people[2].payload.nomination_id}")).json()
    number = await pool.fetchval(
        "SELECT membership_number FROM seats WHERE nomination_id = $1", people[2].payload.nomination_id
    )
    assert seat["status"] == "enrolled"
    assert (seat["funding_source"], seat["membership_number"], seat["membership_issuer"]) == (
        "APBD-PROV",
        number,
        "local",
    )
    assert date.fromisoformat(seat["coverage_start"]).day == 1
    assert seat["position"] is None

    third = people[5].payload.nomination_id
    assert (await client.get(f"/v1/enrolments/{third}")).json()["position"] == 3
    # Someone ahead in line gets a seat: everyone behind moves up.
    await pool.execute(
        "UPDATE waitlist SET promoted_at = now() WHERE nomination_id = $1", people[3].payload.nomination_id
    )
    waiting = (await client.get(f"/v1/enrolments/{third}")).json()
    assert (waiting["status"], waiting["programme_year"], waiting["position"]) == ("waitlisted", 2026, 2)
    assert waiting["membership_number"] is None

    for person in people:  # no personal data in any answer
        text = (await client.get(f"/v1/enrolments/{person.payload.nomination_id}")).text
        assert person.payload.nik not in text and "Rahmawati" not in text and "+62" not in text


async def test_an_unknown_nomination_is_404(client) -> None:
    response = await client.get(f"/v1/enrolments/{uuid.uuid4()}")
    assert response.status_code == 404
    assert (await client.get("/v1/enrolments/not-a-uuid")).status_code == 422


async def test_waitlist_summary_counts_per_year(client, pool, settings) -> None:
    assert (await client.get("/v1/waitlist/summary")).json() == {"years": []}
    await enrol(pool, settings, [verified(i) for i in range(7)])
    await pool.execute("UPDATE waitlist SET promoted_at = now() WHERE position = (SELECT min(position) FROM waitlist)")

    assert (await client.get("/v1/waitlist/summary")).json() == {
        "years": [{"programme_year": 2026, "waiting": 3, "promoted": 1}]
    }
