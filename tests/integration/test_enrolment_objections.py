"""An upheld objection against the end of cover, in enrolment on real PostgreSQL (``objection.reviewed``): the seat
back when the quota has one (same KPJ number, ``restored_by_objection``), else a waitlist place ahead of everyone
waiting; quotas exact when two restorations race for one seat; replays, dismissals, in-review states, rejections
and ends an objection cannot undo change nothing; a forged producer is dead-lettered."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from services.enrolment.app import SPEC
from services.enrolment.handlers import ending, restoring
from services.enrolment.handlers.ending import EndRequest
from services.enrolment.settings import EnrolmentSettings
from shared import db, messaging, topics
from shared.consumer import Consumer
from shared.contracts import Envelope, IdentityVerified, ObjectionReviewed, new_envelope
from tests import signed
from tests.integration.enrolment_support import (
    NOMINATOR,
    PREFIX,
    deps_for,
    emitted,
    enrol,
    make_settings,
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
    pool = await db.create_pool(dsn, 1, 10)
    yield pool
    await pool.close()


@pytest.fixture
async def settings(pool: asyncpg.Pool) -> EnrolmentSettings:
    settings = make_settings("postgresql://unused/unused")  # quotas: APBD-KAB 2, APBD-PROV 1
    await sync(pool, settings)
    return settings


def reviewed(
    person: Envelope[IdentityVerified], state: str = "upheld", ground: str = "ended"
) -> Envelope[ObjectionReviewed]:
    p = person.payload
    payload = ObjectionReviewed(
        objection_id=uuid.uuid4(),
        nomination_id=p.nomination_id,
        state=state,  # type: ignore[arg-type]
        ground=ground,  # type: ignore[arg-type]
        reason_code="not_deceased",
        note="Yang bersangkutan masih hidup.",
        filed_at=datetime(2026, 11, 25, tzinfo=UTC),
        reviewed_at=datetime(2026, 11, 26, tzinfo=UTC),
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=NOMINATOR,
    )
    return new_envelope(payload, producer="verification", person_key=person.person_key, correlation_id=p.nomination_id)


def consumer(pool: asyncpg.Pool, settings: EnrolmentSettings) -> Consumer[ObjectionReviewed]:
    deps = deps_for(pool, settings)
    return Consumer(
        name="enrolment.objection.reviewed",
        topic=settings.topic(topics.OBJECTION_REVIEWED),
        payload=ObjectionReviewed,
        handler=lambda conn, events: restoring.objections_reviewed(deps, conn, events),
        pool=pool,
        max_attempts=2,
        topic_prefix=settings.topic_prefix,
    )


async def end(pool: asyncpg.Pool, settings: EnrolmentSettings, person: Envelope[Any], reason: Any) -> None:
    req = EndRequest(person.payload.nomination_id, reason, date(2026, 11, 20), "registry:snapshot-7")
    await messaging.run(deps_for(pool, settings), ending.end, req)


async def number(pool: asyncpg.Pool, person: Envelope[Any]) -> str:
    return str(
        await pool.fetchval(
            "SELECT membership_number FROM seats WHERE nomination_id = $1 ORDER BY programme_year DESC LIMIT 1",
            person.payload.nomination_id,
        )
    )


async def test_a_free_seat_is_given_back_with_the_same_number_once(pool, settings) -> None:
    people = [verified(i) for i in range(3)]  # every seat taken, nobody waiting
    await enrol(pool, settings, people)
    kpj = await number(pool, people[0])
    await end(pool, settings, people[0], "deceased")
    assert await used(pool) == {"APBD-KAB": 1, "APBD-PROV": 1}

    upheld = reviewed(people[0])
    batch = records(topics.OBJECTION_REVIEWED, [upheld])
    await consumer(pool, settings).process(batch)
    await consumer(pool, settings).process(batch)  # redelivered
    replay = upheld.model_copy(update={"event_id": uuid.uuid4()})  # the same objection under a new event id
    await consumer(pool, settings).process(records(topics.OBJECTION_REVIEWED, [replay]))

    assert await seat_status(pool, people[0]) == "active"
    assert await number(pool, people[0]) == kpj
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}
    restored = [e for e in await emitted(pool, "EnrolmentConfirmed") if e.payload.restored_by_objection]
    assert len(restored) == 1
    assert restored[0].payload.restored_by_objection == upheld.payload.objection_id
    assert restored[0].payload.membership_number == kpj and restored[0].payload.funding_source == "APBD-KAB"
    assert restored[0].person_key == people[0].person_key
    remedy = await pool.fetchrow("SELECT outcome, funding_source FROM objection_remedies")
    assert (remedy["outcome"], remedy["funding_source"]) == ("restored", "APBD-KAB")


async def test_without_a_free_seat_the_member_waits_ahead_of_everyone_and_gets_the_next_seat(pool, settings) -> None:
    people = [verified(i) for i in range(5)]  # 3 seats, people[3] and people[4] waiting
    await enrol(pool, settings, people)
    await end(pool, settings, people[0], "moved_out")  # people[3] promoted into the freed seat
    assert await seat_status(pool, people[3]) == "active" and await waiting(pool) == 1

    kpj = await number(pool, people[0])
    await consumer(pool, settings).process(records(topics.OBJECTION_REVIEWED, [reviewed(people[0])]))
    [placed] = [e for e in await emitted(pool, "EnrolmentWaitlisted") if e.correlation_id == people[0].correlation_id]
    assert placed.payload.position == 1  # ahead of people[4], who waited before
    assert await waiting(pool) == 2
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}  # quota exact
    note = await pool.fetchval("SELECT note FROM enrolment_changes WHERE change = 'restored_waitlisted'")
    assert "ahead of regular places" in note

    await end(pool, settings, people[1], "opted_out")  # a seat frees: the restored member gets it, not people[4]
    assert await seat_status(pool, people[0]) == "active"
    assert await seat_status(pool, people[4]) is None
    promoted = [e for e in await emitted(pool, "EnrolmentConfirmed") if e.correlation_id == people[0].correlation_id]
    assert promoted[-1].payload.promoted_from_waitlist and promoted[-1].payload.restored_by_objection is not None
    assert promoted[-1].payload.membership_number == kpj  # their own KPJ number back
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}


async def test_two_restorations_racing_for_one_seat_keep_the_quota_exact(pool, settings) -> None:
    people = [verified(i) for i in range(3)]
    await enrol(pool, settings, people)
    await end(pool, settings, people[0], "deceased")
    await end(pool, settings, people[1], "deceased")
    await enrol(pool, settings, [verified(10)])  # one of the two freed seats taken by a newcomer
    assert await used(pool) == {"APBD-KAB": 1, "APBD-PROV": 1}

    first = records(topics.OBJECTION_REVIEWED, [reviewed(people[0])])
    second = records(topics.OBJECTION_REVIEWED, [reviewed(people[1])])
    await asyncio.gather(consumer(pool, settings).process(first), consumer(pool, settings).process(second))

    statuses = sorted([str(await seat_status(pool, people[0])), str(await seat_status(pool, people[1]))])
    assert statuses == ["active", "ended"]  # one seated, the other waits (its ended seat row stays ended)
    assert sum((await used(pool)).values()) == 3
    assert await waiting(pool) == 1


@pytest.mark.parametrize(
    ("state", "ground", "end_reason"),
    [
        ("dismissed", "ended", "deceased"),
        ("in_review", "ended", "deceased"),
        ("upheld", "rejected", "deceased"),
        ("upheld", "ended", "opted_out"),
        ("upheld", "ended", "contributions_unpaid"),
    ],
)
async def test_nothing_is_restored_otherwise(pool, settings, state: str, ground: str, end_reason: str) -> None:
    people = [verified(i) for i in range(2)]
    await enrol(pool, settings, people)
    await end(pool, settings, people[0], end_reason)
    before = await pool.fetchval("SELECT count(*) FROM outbox")
    await consumer(pool, settings).process(records(topics.OBJECTION_REVIEWED, [reviewed(people[0], state, ground)]))
    assert await seat_status(pool, people[0]) == "ended"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == before
    assert await used(pool) == {"APBD-KAB": 1, "APBD-PROV": 0}


async def test_a_forged_producer_is_dead_lettered(pool, settings) -> None:
    people = [verified(0)]
    await enrol(pool, settings, people)
    await end(pool, settings, people[0], "deceased")
    forged = reviewed(people[0])
    topic = PREFIX + topics.OBJECTION_REVIEWED
    [record] = records(topics.OBJECTION_REVIEWED, [forged])
    record = dataclasses.replace(record, headers=signed.headers(topic, record.value, "nomination"))
    await consumer(pool, settings).process([record])
    assert await seat_status(pool, people[0]) == "ended"
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'DeadLetter'") == 1
