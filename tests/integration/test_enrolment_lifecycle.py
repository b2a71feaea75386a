"""A seat's life on real PostgreSQL: ending (every reason), promotion, registry life events, the end endpoint and
its audit, the budget endpoint, yearly renewal. Events go through the real consumers, inbox and outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.enrolment.app import SPEC
from services.enrolment.commands import Renew
from services.enrolment.errors import RenewalRefused
from services.enrolment.handlers import ending, renewal
from services.enrolment.handlers.ending import EndRequest, EndResult
from services.enrolment.settings import EnrolmentSettings
from shared import db, messaging, topics
from shared.auth import hash_api_key, new_api_key
from shared.consumer import Consumer
from shared.contracts import RegistryPersonUpdated
from shared.service import Runtime, create_app
from tests.integration.enrolment_support import (
    deps_for,
    emitted,
    enrol,
    live_seats,
    make_settings,
    person_updated,
    records,
    seat_status,
    sync,
    used,
    verified,
    waiting,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 6)
    yield pool
    await pool.close()


@pytest.fixture
async def settings(pool: asyncpg.Pool) -> EnrolmentSettings:
    settings = make_settings("postgresql://unused/unused")  # quotas: APBD-KAB 2, APBD-PROV 1
    await sync(pool, settings)
    return settings


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: EnrolmentSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The service's real app (edge, guard, audit) as the Disnaker officer ``OFFICER``."""
    keyed = settings.model_copy(
        update={"api_keys": {hash_api_key(OFFICER_KEY): {"name": OFFICER, "role": "programme_admin"}}}
    )
    app = create_app(SPEC, keyed)
    rt = Runtime(settings=keyed, pool=pool, relay=None, broker=None)  # type: ignore[arg-type]
    rt.deps = deps_for(pool, keyed)
    app.state.runtime = rt
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": OFFICER_KEY}
    async with httpx.AsyncClient(transport=transport, base_url="http://enrolment", headers=headers) as c:
        yield c


OFFICER, OFFICER_KEY = "disnaker-officer-7", new_api_key()


async def end(pool: asyncpg.Pool, settings: EnrolmentSettings, req: EndRequest) -> EndResult:
    return await messaging.run(deps_for(pool, settings), ending.end, req)


@pytest.mark.parametrize(
    ("reason", "effective", "coverage_end"),
    [
        ("deceased", date(2027, 2, 10), date(2027, 2, 10)),
        ("moved_out", date(2027, 2, 10), date(2027, 2, 28)),
        ("became_wage_earner", date(2027, 2, 10), date(2027, 2, 28)),
        ("opted_out", date(2027, 2, 10), date(2027, 2, 28)),
        ("contributions_unpaid", date(2027, 1, 31), date(2027, 1, 31)),
    ],
)
async def test_every_end_reason_frees_the_seat_for_the_first_person_waiting(
    pool: asyncpg.Pool, settings: EnrolmentSettings, reason: Any, effective: date, coverage_end: date
) -> None:
    people = [verified(i) for i in range(5)]  # 3 seats, then 2 waiting in arrival order
    await enrol(pool, settings, people)
    assert await waiting(pool) == 2

    result = await end(pool, settings, EndRequest(people[0].payload.nomination_id, reason, effective, "op-1"))

    assert (result.outcome, result.coverage_end) == ("ended", coverage_end)
    assert await seat_status(pool, people[0]) == "ended"
    assert await seat_status(pool, people[3]) == "active"  # the first to wait, not the second
    assert await seat_status(pool, people[4]) is None
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}
    assert await waiting(pool) == 1
    (ended,) = await emitted(pool, "EnrolmentEnded")
    assert (ended.payload.reason, ended.payload.coverage_end) == (reason, coverage_end)
    assert ended.payload.nomination_id == people[0].payload.nomination_id
    promoted = [e for e in await emitted(pool, "EnrolmentConfirmed") if e.payload.promoted_from_waitlist]
    assert [e.payload.nomination_id for e in promoted] == [people[3].payload.nomination_id]
    assert promoted[0].payload.funding_source == "APBD-KAB"  # the freed seat's source
    assert promoted[0].person_key == people[3].person_key
    changes = await pool.fetch("SELECT nomination_id, change, reason, recorded_by FROM enrolment_changes ORDER BY id")
    assert [(c["change"], c["reason"]) for c in changes] == [("ended", reason), ("promoted", None)]


async def test_registry_life_events_through_the_consumer(pool: asyncpg.Pool, settings: EnrolmentSettings) -> None:
    people = [verified(i) for i in range(5)]
    await enrol(pool, settings, people)
    consumer = Consumer(
        name="enrolment.registry.person_updated",
        topic=settings.topic(topics.REGISTRY_PERSON_UPDATED),
        payload=RegistryPersonUpdated,
        handler=lambda conn, events: ending.registry_person_updated(deps_for(pool, settings), conn, events),
        pool=pool,
        max_attempts=2,
        topic_prefix=settings.topic_prefix,
    )
    batch = records(
        topics.REGISTRY_PERSON_UPDATED,
        [
            person_updated(people[3], "moved_out", date(2027, 1, 5)),  # waiting: leaves the waitlist
            person_updated(people[1], "deceased", date(2027, 1, 20)),  # seated: frees a seat for people[4]
            person_updated(people[2], "inactive", date(2027, 1, 20)),  # flagged, still covered
        ],
    )
    await consumer.process(batch)
    await consumer.process(batch)  # redelivered: the inbox makes it a no-op

    assert await seat_status(pool, people[1]) == "ended"
    coverage_end = await pool.fetchval(
        "SELECT coverage_end FROM seats WHERE nomination_id = $1", people[1].payload.nomination_id
    )
    assert coverage_end == date(2027, 1, 20)  # the date of death
    assert await seat_status(pool, people[2]) == "active"
    assert await seat_status(pool, people[3]) is None  # never got the seat: it had moved away
    assert await seat_status(pool, people[4]) == "active"
    assert await waiting(pool) == 0
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}
    ended = await emitted(pool, "EnrolmentEnded")
    assert [(e.payload.reason, e.causation_id) for e in ended] == [("deceased", ended[0].causation_id)]
    assert ended[0].causation_id is not None
    promoted = [e for e in await emitted(pool, "EnrolmentConfirmed") if e.payload.promoted_from_waitlist]
    assert [e.payload.nomination_id for e in promoted] == [people[4].payload.nomination_id]
    changes = await pool.fetch("SELECT change, reason, recorded_by FROM enrolment_changes ORDER BY id")
    assert [(c["change"], c["reason"]) for c in changes] == [
        ("waitlist_removed", "moved_out"),
        ("ended", "deceased"),
        ("promoted", None),
        ("flagged", "inactive"),
    ]
    assert {c["recorded_by"] for c in changes} == {"registry:snapshot-7", "enrolment"}


async def test_the_end_endpoint_ends_audits_and_refuses_what_is_not_live(
    pool: asyncpg.Pool, settings: EnrolmentSettings, client: httpx.AsyncClient
) -> None:
    people = [verified(i) for i in range(4)]
    await enrol(pool, settings, people)
    nid = people[2].payload.nomination_id  # the APBD-PROV seat
    body = {"reason": "became_wage_earner", "effective_date": "2027-03-03", "note": "PKWT", "recorded_by": "op-7"}

    response = await client.post(f"/v1/enrolments/{nid}/end", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"nomination_id": str(nid), "outcome": "ended", "coverage_end": "2027-03-31"}
    again = await client.post(f"/v1/enrolments/{nid}/end", json=body)
    assert again.status_code == 404
    deceased = await client.post(f"/v1/enrolments/{nid}/end", json={**body, "reason": "deceased"})
    assert deceased.status_code == 422  # deaths come from the civil registry, not from an operator

    seat = (await client.get(f"/v1/enrolments/{nid}")).json()
    assert (seat["status"], seat["end_reason"], seat["coverage_end"]) == ("ended", "became_wage_earner", "2027-03-31")
    promoted = (await client.get(f"/v1/enrolments/{people[3].payload.nomination_id}")).json()
    assert (promoted["status"], promoted["funding_source"], promoted["promoted_from_waitlist"]) == (
        "enrolled", "APBD-PROV", True,
    )  # fmt: skip
    changes = (await client.get(f"/v1/enrolments/{nid}/changes")).json()
    # who recorded it is the authenticated caller, not the name the body claims ("op-7")
    assert [(c["change"], c["reason"], c["note"], c["recorded_by"]) for c in changes] == [
        ("ended", "became_wage_earner", "PKWT", OFFICER)
    ]
    audited = await pool.fetch("SELECT principal, action, subject_id FROM audit_log ORDER BY id")
    assert [(r["principal"], r["action"], r["subject_id"]) for r in audited] == [
        (OFFICER, "enrolment.ended", str(nid)),
        (OFFICER, "enrolment.read", str(nid)),
        (OFFICER, "enrolment.read", str(people[3].payload.nomination_id)),
        (OFFICER, "enrolment.changes_read", str(nid)),
    ]


async def test_the_budget_endpoint_counts_covered_months_against_the_quota(
    pool: asyncpg.Pool, settings: EnrolmentSettings, client: httpx.AsyncClient
) -> None:
    people = [verified(i) for i in range(3)]
    await enrol(pool, settings, people)
    spans = [(date(2026, 1, 1), None), (date(2026, 3, 1), date(2026, 4, 15)), (date(2026, 12, 1), None)]
    for person, (start, end_) in zip(people, spans, strict=True):
        await pool.execute(
            "UPDATE seats SET coverage_start = $2, coverage_end = $3, status = CASE WHEN $3::date IS NULL "
            "THEN 'active' ELSE 'ended' END WHERE nomination_id = $1",
            person.payload.nomination_id, start, end_,
        )  # fmt: skip

    response = await client.get("/v1/budget", params={"programme_year": 2026})
    assert response.status_code == 200
    kab, prov = response.json()["sources"]
    assert kab["code"] == "APBD-KAB" and prov["code"] == "APBD-PROV"
    assert [m["seats"] for m in kab["months"]] == [1, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert kab["months"][2] == {
        "month": 3, "seats": 2, "committed_idr": 33600, "allocated_idr": 33600, "absorption_pct": 100.0,
    }  # fmt: skip
    assert kab["committed_idr"] == 14 * 16800 and kab["allocated_idr"] == 12 * 2 * 16800
    assert kab["absorption_pct"] == round(100 * 14 / 24, 2)
    assert [m["seats"] for m in prov["months"]] == [0] * 11 + [1]
    assert prov["absorption_pct"] == round(100 / 12, 2)


async def test_renewal_rolls_active_seats_and_the_waitlist_once(
    pool: asyncpg.Pool, settings: EnrolmentSettings
) -> None:
    people = [verified(i) for i in range(6)]  # 3 seats, 3 waiting
    await enrol(pool, settings, people)
    await end(pool, settings, EndRequest(people[0].payload.nomination_id, "opted_out", date(2026, 12, 5), "op"))
    numbers = dict(await pool.fetch("SELECT nomination_id, membership_number FROM seats WHERE status = 'active'"))
    settings27 = make_settings("postgresql://unused/unused", (("APBD-KAB", 3), ("APBD-PROV", 1)), programme_year=2027)

    result = await renewal.renew(deps_for(pool, settings27), Renew(from_year=2026, to_year=2027))

    # 3 renewed (people 1, 2 and the promoted 3); people 4 and 5 carried over; one free seat goes to person 4
    assert (result.renewed, result.not_renewed, result.waitlist_carried, result.promoted) == (3, 0, 2, 1)
    rows = await pool.fetch("SELECT nomination_id, programme_year, status, coverage_end FROM seats")
    by_year = {(r["nomination_id"], r["programme_year"]): r for r in rows}
    for nid in numbers:
        assert by_year[(nid, 2026)]["status"] == "renewed"
        assert by_year[(nid, 2026)]["coverage_end"] == date(2026, 12, 31)
        assert by_year[(nid, 2027)]["status"] == "active"
    renewed = dict(await pool.fetch("SELECT nomination_id, membership_number FROM seats WHERE programme_year = 2027"))
    assert {nid: renewed[nid] for nid in numbers} == numbers  # the same membership numbers
    assert await used(pool, 2026) == {"APBD-KAB": 0, "APBD-PROV": 0}
    assert await used(pool, 2027) == {"APBD-KAB": 3, "APBD-PROV": 1}
    assert (await waiting(pool, 2026), await waiting(pool, 2027)) == (0, 1)
    assert await seat_status(pool, people[4]) == "active"

    before = (await pool.fetchval("SELECT count(*) FROM seats"), await pool.fetchval("SELECT count(*) FROM outbox"))
    again = await renewal.renew(deps_for(pool, settings27), Renew(from_year=2026, to_year=2027))
    assert (again.renewed, again.not_renewed, again.waitlist_carried, again.promoted) == (0, 0, 0, 0)
    after = (await pool.fetchval("SELECT count(*) FROM seats"), await pool.fetchval("SELECT count(*) FROM outbox"))
    assert after == before

    # One NIK, one live seat across years: the same person nominated again in 2027 gets nothing new.
    again_person = verified(1)
    await enrol(pool, settings27, [again_person])
    assert await seat_status(pool, again_person) is None
    assert await live_seats(pool) == 4
    nik_twice = await pool.fetchval(
        "SELECT count(*) FROM (SELECT nik FROM seats WHERE status IN ('pending_bpjs', 'active') "
        "GROUP BY nik HAVING count(*) > 1) d"
    )
    assert nik_twice == 0


async def test_renewal_into_smaller_quotas_ends_the_latest_seated(
    pool: asyncpg.Pool, settings: EnrolmentSettings
) -> None:
    people = [verified(i) for i in range(3)]
    await enrol(pool, settings, people)
    settings27 = make_settings("postgresql://unused/unused", (("APBD-KAB", 2),), programme_year=2027)
    with pytest.raises(RenewalRefused):
        await renewal.renew(deps_for(pool, settings27), Renew(from_year=2025, to_year=2027))

    result = await renewal.renew(deps_for(pool, settings27), Renew(from_year=2026, to_year=2027))

    assert (result.renewed, result.not_renewed) == (2, 1)
    (ended,) = await emitted(pool, "EnrolmentEnded")
    assert (ended.payload.nomination_id, ended.payload.reason) == (people[2].payload.nomination_id, "not_renewed")
    assert ended.payload.coverage_end == date(2026, 12, 31)
    assert await seat_status(pool, people[2]) == "ended"


async def test_a_raised_quota_goes_to_the_people_waiting_first(pool: asyncpg.Pool, settings: EnrolmentSettings) -> None:
    people = [verified(i) for i in range(6)]  # 3 seats, 3 waiting
    await enrol(pool, settings, people)

    await sync(pool, make_settings("unused", (("APBD-KAB", 4), ("APBD-PROV", 1))))

    assert [await seat_status(pool, p) for p in people[3:]] == ["active", "active", None]
    assert await used(pool) == {"APBD-KAB": 4, "APBD-PROV": 1}
    assert await waiting(pool) == 1
    promoted = [e for e in await emitted(pool, "EnrolmentConfirmed") if e.payload.promoted_from_waitlist]
    assert [e.payload.nomination_id for e in promoted] == [p.payload.nomination_id for p in people[3:5]]


async def test_a_person_whose_seat_ended_can_be_nominated_again_but_never_holds_two(
    pool: asyncpg.Pool, settings: EnrolmentSettings
) -> None:
    people = [verified(i) for i in range(4)]  # 3 seats, people[3] waits
    await enrol(pool, settings, people)
    first = people[0].payload.nomination_id
    await end(pool, settings, EndRequest(first, "became_wage_earner", date(2026, 12, 1), "op"))
    await end(pool, settings, EndRequest(people[3].payload.nomination_id, "opted_out", date(2026, 12, 1), "op"))

    back = [verified(0), verified(0)]  # lost the job: nominated again, twice (two villages)
    await enrol(pool, settings, back)

    assert await seat_status(pool, back[0]) == "active"  # the seat freed by people[3] opting out
    assert await seat_status(pool, back[1]) is None
    assert await pool.fetchval("SELECT reason FROM duplicate_attempts") == "nik_holds_seat"
    assert await pool.fetchval("SELECT count(*) FROM seats WHERE nik = $1", back[0].payload.nik) == 2  # one ended
    assert await live_seats(pool) == 3


async def test_concurrent_ends_and_arrivals_keep_counters_exact(
    pool: asyncpg.Pool, settings: EnrolmentSettings
) -> None:
    people = [verified(i) for i in range(8)]  # 3 seats, 5 waiting
    await enrol(pool, settings, people)
    arrivals = [verified(i) for i in range(100, 106)]
    ends = [
        end(pool, settings, EndRequest(p.payload.nomination_id, "opted_out", date(2026, 12, 1), "op"))
        for p in people[:3]
    ]
    await asyncio.gather(*ends, *(enrol(pool, settings, [p]) for p in arrivals))

    live = dict(
        await pool.fetch(
            "SELECT funding_source, count(*) FROM seats WHERE status IN ('pending_bpjs', 'active') GROUP BY 1"
        )
    )
    assert await used(pool) == live == {"APBD-KAB": 2, "APBD-PROV": 1}
    actually_waiting = await pool.fetchval(
        "SELECT count(*) FROM waitlist WHERE promoted_at IS NULL AND removed_at IS NULL"
    )
    assert await waiting(pool) == actually_waiting == 8 - 3 + 6 - 3
    # The three freed seats went to the first three who were waiting before the new arrivals.
    assert [await seat_status(pool, p) for p in people[3:]] == ["active"] * 3 + [None] * 2
