"""The DCI enrolment check (``POST /dci/registry/sync/enrolled``) through the real app's guard, on real
PostgreSQL with seats made by the real handler: yes/no and nothing else, audited, scoped, rate-limited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.enrolment import domain
from services.enrolment.app import SPEC
from shared import db
from shared.auth import hash_api_key, new_api_key
from shared.service import Runtime, create_app
from tests.integration.enrolment_support import deps_for, enrol, make_settings, nik, sync, verified

pytestmark = pytest.mark.integration

KEYS = {role: new_api_key() for role in ("partner_agency", "programme_admin", "verifier", "auditor", "nominator")}
PER_MINUTE = 4


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    api_keys = {
        hash_api_key(key): {"name": f"{role}-1", "role": role, "area": "64.09.04.2001" if role == "nominator" else None}
        for role, key in KEYS.items()
    }
    settings = make_settings("postgresql://unused/unused", api_keys=api_keys, enrolment_check_per_minute=PER_MINUTE)
    await sync(pool, settings)
    app = create_app(SPEC, settings)  # the real guard; the lifespan (Kafka, relay) is not run
    app.state.runtime = Runtime(settings, pool, relay=None, broker=None, deps=deps_for(pool, settings))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enrolment") as c:
        c.settings = settings  # type: ignore[attr-defined]
        yield c


def check(value: str, **query: Any) -> dict[str, Any]:
    return {
        "header": {"version": "1.0.0", "message_id": "m1", "message_ts": "2026-11-21T10:00:00+08:00",
                   "action": "enrolled", "sender_id": "dinsos.kaltimprov.go.id", "total_count": 1},
        "message": {"transaction_id": "tx-1", "enrolled_criteria": {
            "reference_id": "ref-1", "query_type": "idtype-value", "query": {"type": "UIN", "value": value} | query}},
    }  # fmt: skip


async def ask(client: httpx.AsyncClient, body: dict[str, Any], role: str | None = "partner_agency") -> httpx.Response:
    headers = {"X-API-Key": KEYS[role]} if role else {}
    return await client.post("/dci/registry/sync/enrolled", json=body, headers=headers)


async def audits(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT principal, role, action, subject_id, detail FROM audit_log ORDER BY id")


async def test_an_enrolled_person_is_yes_with_programme_and_period_only_and_every_answer_is_audited(client, pool):
    person = verified(1)
    await enrol(pool, client.settings, [person])
    response = await ask(client, check(nik(1)))
    assert response.status_code == 200, response.text
    body = response.json()
    item = body["message"]["enrolled_response"][0]
    start = domain.coverage_start(await pool.fetchval("SELECT enrolled_at FROM seats"))
    assert item == {
        "reference_id": "ref-1",
        "timestamp": item["timestamp"],
        "status": "succ",
        "enrolled_status": "yes",
        "programme": {
            "programme_identifier": "payung-bpjstk-6408",
            "programme_name": client.settings.dci_programme_name,
        },
        "period": {"start_date": start.isoformat(), "end_date": date(start.year, 12, 31).isoformat()},
    }
    assert body["message"]["transaction_id"] == "tx-1" and body["header"]["action"] == "on-enrolled"
    # nothing else about the person: not the NIK, the name, the membership number, the nomination
    number = await pool.fetchval("SELECT membership_number FROM seats")
    for secret in (nik(1), "Siti", number, str(person.payload.nomination_id)):
        assert secret not in response.text

    no = await ask(client, check(nik(2)))
    assert no.status_code == 200 and no.json()["message"]["enrolled_response"][0]["enrolled_status"] == "no"
    assert "programme" not in no.json()["message"]["enrolled_response"][0]
    other = check(nik(1), **{"programme_identifier.program.programme_identifier": {"eq": "another-programme"}})
    assert (await ask(client, other)).json()["message"]["enrolled_response"][0]["enrolled_status"] == "no"

    rows = await audits(pool)
    assert [(r["principal"], r["role"], r["action"]) for r in rows] == [("partner_agency-1", "partner_agency",
                                                                          "enrolment.checked")] * 3  # fmt: skip
    assert rows[0]["subject_id"] == str(person.payload.nomination_id) and rows[1]["subject_id"] is None
    assert [r["detail"]["enrolled"] for r in rows] == ["yes", "no", "no"]
    assert all(nik(1) not in str(r["detail"]) and nik(2) not in str(r["detail"]) for r in rows)


async def test_an_ended_seat_is_no(client, pool):
    await enrol(pool, client.settings, [verified(3)])
    await pool.execute("UPDATE seats SET status = 'ended', coverage_end = DATE '2026-01-31', end_reason = 'opted_out'")
    assert (await ask(client, check(nik(3)))).json()["message"]["enrolled_response"][0]["enrolled_status"] == "no"


@pytest.mark.parametrize("role", [None, "verifier", "auditor", "nominator"])
async def test_callers_without_the_partner_scope_are_refused_and_nothing_is_audited(client, pool, role):
    response = await ask(client, check(nik(1)), role)
    assert response.status_code == (401 if role is None else 403)
    assert await audits(pool) == []


async def test_a_partner_reaches_nothing_else_of_the_api(client):
    headers = {"X-API-Key": KEYS["partner_agency"]}
    assert (await client.get("/v1/waitlist/summary", headers=headers)).status_code == 403
    assert (await client.get("/v1/funding-sources", headers=headers)).status_code == 403


async def test_a_malformed_identifier_is_refused_without_echoing_it(client, pool):
    response = await ask(client, check("6409-TYPO-000001"))
    assert response.status_code == 422 and "TYPO" not in response.text
    assert await audits(pool) == []


async def test_checks_beyond_the_rate_are_refused_with_retry_after_and_not_answered(client, pool):
    answers = [await ask(client, check(nik(10 + i))) for i in range(PER_MINUTE + 1)]
    assert [a.status_code for a in answers] == [200] * PER_MINUTE + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert len(await audits(pool)) == PER_MINUTE
    # another partner has a bucket of its own
    assert (await ask(client, check(nik(20)), "programme_admin")).status_code == 200
