"""The enrolment handler on real PostgreSQL, through ``Consumer.process`` so the real inbox and outbox run.

Records are hand-built aiokafka ``ConsumerRecord``s: Kafka itself is not needed to test what a batch does.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from services.enrolment.app import SPEC
from services.enrolment.errors import QuotaBelowSeatsTaken
from services.enrolment.handlers import seating
from services.enrolment.settings import EnrolmentSettings, FundingSourceConfig
from shared import db, keys, outbox, signing, topics
from shared.consumer import Consumer
from shared.contracts import Envelope, IdentityVerified, Nominator, SubmissionProof, decode, encode, new_envelope
from shared.errors import TransientError
from tests import signed
from tests.integration.enrolment_support import deps_for, sync

pytestmark = pytest.mark.integration

PREFIX = "t."
NOMINATOR = Nominator(type="desa", name="Kepala Desa Sepaku", region_code="64.09.04.2001")


# --------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
async def dsn(create_database: Any) -> str:
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    return dsn


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, 1, 10)
    yield pool
    await pool.close()


def make_settings(dsn: str, quotas: Sequence[tuple[str, int]] = (("APBD-KAB", 3), ("APBD-PROV", 2)), **kw: Any):
    sources = [
        FundingSourceConfig(code=code, name=f"Dana {code}", quota=quota, priority=i + 1, premium_idr=16800)
        for i, (code, quota) in enumerate(quotas)
    ]
    return EnrolmentSettings(
        database_url=dsn, kafka_bootstrap="unused:9092", topic_prefix=PREFIX, funding_sources=sources, **kw
    )


async def synced(pool: asyncpg.Pool, settings: EnrolmentSettings) -> EnrolmentSettings:
    await sync(pool, settings)
    return settings


def make_consumer(pool: asyncpg.Pool, settings: EnrolmentSettings) -> Consumer[IdentityVerified]:
    return Consumer(
        name="enrolment.identity.verified",
        topic=settings.topic(topics.IDENTITY_VERIFIED),
        payload=IdentityVerified,
        handler=lambda conn, events: seating.seat_verified(deps_for(pool, settings), conn, events),
        pool=pool,
        max_attempts=2,
        topic_prefix=settings.topic_prefix,
    )


def verified(nik: str, nomination_id: uuid.UUID | None = None) -> Envelope[IdentityVerified]:
    nomination_id = nomination_id or uuid.uuid4()
    payload = IdentityVerified(
        nomination_id=nomination_id,
        nik=nik,
        full_name="Siti Aminah",
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
            payload,
            producer="verification",
            person_key=keys.person_key(nik, "test-secret-0123456789"),
            correlation_id=nomination_id,
        )
    )


def niks(n: int, start: int = 0) -> list[str]:
    return [f"640904{i:010d}" for i in range(start, start + n)]


_offsets = iter(range(10**9))


def records(envelopes: Sequence[Envelope[Any]], partition: int = 0) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for env in envelopes:
        key, value = env.person_key.encode(), encode(env)
        out.append(
            ConsumerRecord(
                PREFIX + topics.IDENTITY_VERIFIED, partition, next(_offsets), 0, 0, key, value, None,
                len(key), len(value), signed.headers(PREFIX + topics.IDENTITY_VERIFIED, value),
            )
        )  # fmt: skip
    return out


async def emitted(pool: asyncpg.Pool) -> list[tuple[str, bytes, Envelope[Any]]]:
    rows = await pool.fetch("SELECT topic, key, value FROM outbox ORDER BY id")
    return [(r["topic"], r["key"], decode(r["value"])) for r in rows]


async def counts(pool: asyncpg.Pool) -> dict[str, Any]:
    return {
        "seats": await pool.fetchval("SELECT count(*) FROM seats"),
        "waitlist": await pool.fetchval("SELECT count(*) FROM waitlist"),
        "duplicates": await pool.fetchval("SELECT count(*) FROM duplicate_attempts"),
        "outbox": await pool.fetchval("SELECT count(*) FROM outbox"),
        "used": dict(await pool.fetch("SELECT code, used FROM funding_sources ORDER BY code")),
    }


# ---------------------------------------------------------------------------------------------------- tests


async def test_small_quotas_fill_exactly_then_people_wait_in_arrival_order(dsn: str, pool: asyncpg.Pool) -> None:
    settings = await synced(pool, make_settings(dsn))
    consumer = make_consumer(pool, settings)
    people = [verified(nik) for nik in niks(8)]

    await consumer.process(records(people[:4]))
    await consumer.process(records(people[4:]))

    assert (await counts(pool))["used"] == {"APBD-KAB": 3, "APBD-PROV": 2}
    seats = await pool.fetch("SELECT * FROM seats ORDER BY membership_number")
    assert [s["nomination_id"] for s in seats] == [p.payload.nomination_id for p in people[:5]]
    assert [s["funding_source"] for s in seats] == ["APBD-KAB"] * 3 + ["APBD-PROV"] * 2
    assert all(len(s["membership_number"]) == 11 and s["membership_number"].isdigit() for s in seats)
    assert {s["membership_issuer"] for s in seats} == {"local"}
    assert {s["status"] for s in seats} == {"active"}
    assert all(s["coverage_start"].day == 1 and s["coverage_start"] > s["enrolled_at"].date() for s in seats)
    waiting = await pool.fetch("SELECT nomination_id, payload, causation_id FROM waitlist ORDER BY position")
    assert [w["nomination_id"] for w in waiting] == [p.payload.nomination_id for p in people[5:]]
    assert [w["causation_id"] for w in waiting] == [p.event_id for p in people[5:]]
    assert IdentityVerified.model_validate(waiting[0]["payload"]) == people[5].payload  # enough to enrol later

    out = await emitted(pool)
    assert [t for t, _, _ in out] == [PREFIX + topics.ENROLMENT_CONFIRMED] * 5 + [
        PREFIX + topics.ENROLMENT_WAITLISTED
    ] * 3
    for (_, key, env), cause in zip(out, people, strict=True):
        assert key == cause.person_key.encode()
        assert env.person_key == cause.person_key
        assert env.correlation_id == cause.payload.nomination_id == env.payload.nomination_id
        assert env.causation_id == cause.event_id
        assert env.producer == "enrolment"
        assert env.payload.full_name == cause.payload.full_name
        assert env.payload.nominator == NOMINATOR
    confirmed = [env.payload for _, _, env in out[:5]]
    assert [c.membership_number for c in confirmed] == [s["membership_number"] for s in seats]
    assert [c.funding_source for c in confirmed] == ["APBD-KAB"] * 3 + ["APBD-PROV"] * 2
    assert {c.programme_year for c in confirmed} == {2026}
    assert [env.payload.position for _, _, env in out[5:]] == [1, 2, 3]


async def test_a_redelivered_batch_creates_nothing_new(dsn: str, pool: asyncpg.Pool) -> None:
    settings = await synced(pool, make_settings(dsn))
    consumer = make_consumer(pool, settings)
    batch = records([verified(nik) for nik in niks(7)])

    await consumer.process(batch)
    before = await counts(pool)
    await consumer.process(batch)
    # A second consumer (a replica after a rebalance) sees the same batch: still nothing new.
    await make_consumer(pool, settings).process(batch)

    assert await counts(pool) == before
    assert before["seats"] == 5 and before["waitlist"] == 2 and before["outbox"] == 7 and before["duplicates"] == 0
    assert consumer.stats.duplicates == 7


async def test_a_nik_verified_under_two_nominations_holds_one_seat(dsn: str, pool: asyncpg.Pool) -> None:
    settings = await synced(pool, make_settings(dsn))
    consumer = make_consumer(pool, settings)
    nik, other_nik = niks(2)
    first, again_same_batch, again_later, other = verified(nik), verified(nik), verified(nik), verified(other_nik)

    await consumer.process(records([first, again_same_batch, other]))
    await consumer.process(records([again_later]))

    seats = await pool.fetch("SELECT nomination_id, nik FROM seats ORDER BY membership_number")
    assert [(s["nomination_id"], s["nik"]) for s in seats] == [
        (first.payload.nomination_id, nik),
        (other.payload.nomination_id, other_nik),
    ]
    assert (await counts(pool))["used"] == {"APBD-KAB": 2, "APBD-PROV": 0}
    dups = await pool.fetch("SELECT * FROM duplicate_attempts ORDER BY id")
    held_by = first.payload.nomination_id
    assert [(d["nomination_id"], d["event_id"], d["reason"], d["held_by"]) for d in dups] == [
        (again_same_batch.payload.nomination_id, again_same_batch.event_id, "nik_holds_seat", held_by),
        (again_later.payload.nomination_id, again_later.event_id, "nik_holds_seat", held_by),
    ]
    assert {d["person_key"] for d in dups} == {first.person_key}
    assert "nik" not in dups[0].keys()  # the audit table holds no NIK
    out = await emitted(pool)
    assert [env.payload.nomination_id for _, _, env in out] == [
        first.payload.nomination_id,
        other.payload.nomination_id,
    ]


async def test_a_waitlisted_nik_verified_again_keeps_its_one_place(dsn: str, pool: asyncpg.Pool) -> None:
    settings = await synced(pool, make_settings(dsn, quotas=[("APBD-KAB", 1)]))
    consumer = make_consumer(pool, settings)
    seated, waiting = niks(2)
    await consumer.process(records([verified(seated), verified(waiting)]))
    before = await counts(pool)
    await consumer.process(records([verified(waiting)]))

    after = await counts(pool)
    assert (after["seats"], after["waitlist"], after["outbox"]) == (
        before["seats"],
        before["waitlist"],
        before["outbox"],
    )
    assert await pool.fetchval("SELECT reason FROM duplicate_attempts") == "nik_waitlisted"


async def test_the_same_nomination_verified_again_with_a_new_event_creates_nothing(
    dsn: str, pool: asyncpg.Pool
) -> None:
    settings = await synced(pool, make_settings(dsn))
    consumer = make_consumer(pool, settings)
    event = verified(niks(1)[0])
    await consumer.process(records([event]))
    repeat = new_envelope(
        event.payload, producer="verification", person_key=event.person_key, correlation_id=event.correlation_id
    )
    await consumer.process(records([repeat]))

    assert (await counts(pool))["seats"] == 1 and (await counts(pool))["outbox"] == 1
    assert await pool.fetchval("SELECT reason FROM duplicate_attempts") == "nomination_already_decided"


async def test_concurrent_batches_never_exceed_the_quotas(dsn: str, pool: asyncpg.Pool) -> None:
    settings = await synced(pool, make_settings(dsn))
    replicas = [make_consumer(pool, settings), make_consumer(pool, settings)]
    people = [verified(nik) for nik in niks(40)]
    batches = [people[i : i + 10] for i in range(0, 40, 10)]

    for round_ in range(2):  # two rounds of two replicas processing different batches at the same time
        pair = batches[2 * round_ : 2 * round_ + 2]
        await asyncio.gather(*(c.process(records(b, partition=i)) for i, (c, b) in enumerate(zip(replicas, pair))))

    c = await counts(pool)
    assert c["used"] == {"APBD-KAB": 3, "APBD-PROV": 2}
    assert (c["seats"], c["waitlist"], c["outbox"]) == (5, 35, 40)
    out = await emitted(pool)
    positions = sorted(env.payload.position for _, _, env in out if env.event_type == "EnrolmentWaitlisted")
    assert positions == list(range(1, 36))  # each place in line given exactly once
    db_order = [r["nomination_id"] for r in await pool.fetch("SELECT nomination_id FROM waitlist ORDER BY position")]
    by_position = {
        env.payload.position: env.payload.nomination_id for _, _, env in out if env.event_type == "EnrolmentWaitlisted"
    }
    assert [by_position[p] for p in positions] == db_order  # event positions agree with arrival order
    assert await pool.fetchval("SELECT waiting FROM waitlist_years WHERE programme_year = 2026") == 35


async def test_missing_funding_sources_are_a_transient_failure(dsn: str, pool: asyncpg.Pool) -> None:
    await synced(pool, make_settings(dsn))
    other_year = make_settings(dsn, programme_year=2027)  # a replica configured for a year nobody synced
    with pytest.raises(TransientError, match="2027"):
        await make_consumer(pool, other_year).process(records([verified(niks(1)[0])]))
    assert (await counts(pool))["seats"] == 0
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 0  # rolled back: redelivery will process it


async def test_sync_inserts_updates_and_refuses_a_quota_below_the_seats_taken(dsn: str, pool: asyncpg.Pool) -> None:
    await synced(pool, make_settings(dsn))
    await make_consumer(pool, make_settings(dsn)).process(records([verified(nik) for nik in niks(4)]))

    raised = make_settings(dsn, quotas=[("APBD-KAB", 10), ("APBD-PROV", 1), ("CSR-X", 4)])
    await sync(pool, raised)
    rows = {r["code"]: dict(r) for r in await pool.fetch("SELECT * FROM funding_sources")}
    assert {c: (r["quota"], r["used"], r["priority"]) for c, r in rows.items()} == {
        "APBD-KAB": (10, 3, 1),
        "APBD-PROV": (1, 1, 2),  # lowered to exactly the seats taken: allowed
        "CSR-X": (4, 0, 3),
    }

    lowered = make_settings(dsn, quotas=[("APBD-KAB", 2), ("APBD-PROV", 0)])
    with pytest.raises(QuotaBelowSeatsTaken, match=r"APBD-KAB: quota 2 < 3.*APBD-PROV: quota 0 < 1"):
        await sync(pool, lowered)
    assert {r["code"]: r["quota"] for r in await pool.fetch("SELECT code, quota FROM funding_sources")} == {
        "APBD-KAB": 10,
        "APBD-PROV": 1,
        "CSR-X": 4,
    }


async def test_a_source_no_longer_configured_keeps_its_seats_but_gives_no_new_ones(
    dsn: str, pool: asyncpg.Pool
) -> None:
    await synced(pool, make_settings(dsn))
    await make_consumer(pool, make_settings(dsn)).process(records([verified(niks(1)[0])]))
    prov_only = await synced(pool, make_settings(dsn, quotas=[("APBD-PROV", 2)]))
    await make_consumer(pool, prov_only).process(records([verified(nik) for nik in niks(3, start=1)]))

    assert (await counts(pool))["used"] == {"APBD-KAB": 1, "APBD-PROV": 2}
    assert await pool.fetchval("SELECT count(*) FROM waitlist") == 1


async def test_programme_years_have_their_own_sources_and_waitlist(dsn: str, pool: asyncpg.Pool) -> None:
    y26 = await synced(pool, make_settings(dsn, quotas=[("APBD-KAB", 1)]))
    y27 = await synced(pool, make_settings(dsn, quotas=[("APBD-KAB", 1)], programme_year=2027))
    await make_consumer(pool, y26).process(records([verified(nik) for nik in niks(2)]))
    await make_consumer(pool, y27).process(records([verified(nik) for nik in niks(2, start=2)]))

    rows = await pool.fetch("SELECT programme_year, used FROM funding_sources ORDER BY programme_year")
    assert [tuple(r) for r in rows] == [(2026, 1), (2027, 1)]
    out = await emitted(pool)
    assert [env.payload.position for _, _, env in out if env.event_type == "EnrolmentWaitlisted"] == [1, 1]
    counters = await pool.fetch("SELECT programme_year, waiting FROM waitlist_years ORDER BY programme_year")
    assert [tuple(r) for r in counters] == [(2026, 1), (2027, 1)]


async def test_a_verification_not_tied_to_a_real_submission_gets_no_seat(dsn: str, pool: asyncpg.Pool) -> None:
    # Verification (a bug there, or its key in the wrong hands) claims nominations nomination never issued: without
    # the nomination service's proof, with a proof for another NIK, with a proof signed by verification itself.
    settings = await synced(pool, make_settings(dsn))
    consumer = make_consumer(pool, settings)
    real, no_proof, other_nik, self_signed = (verified(nik) for nik in niks(4))
    stripped = no_proof.payload.model_copy(update={"submission_proof": None})
    moved = other_nik.payload.model_copy(update={"nik": "6409049999999999"})
    kid = signed.SIGNERS["verification"].kid
    statement = signing.submission_statement(self_signed.payload.nomination_id, self_signed.payload.nik, "x")
    forged = SubmissionProof(kid=kid, signature=signing._b64(signed.SIGNERS["verification"].key.sign(statement)))
    impostor = self_signed.payload.model_copy(update={"submission_proof": forged})
    batch = [
        real,
        no_proof.model_copy(update={"payload": stripped}),
        other_nik.model_copy(update={"payload": moved}),
        self_signed.model_copy(update={"payload": impostor}),
    ]

    await consumer.process(records(batch))

    seats = await pool.fetch("SELECT nomination_id FROM seats")
    assert [s["nomination_id"] for s in seats] == [real.payload.nomination_id]
    letters = await pool.fetch(
        "SELECT headers FROM outbox WHERE topic = $1", PREFIX + topics.dlq(topics.IDENTITY_VERIFIED)
    )
    headers = [dict(outbox.unpack_headers(r["headers"])) for r in letters]  # stored as bytes
    assert [h["x-dlq-error-type"] for h in headers] == [b"unproven_submission"] * 3
