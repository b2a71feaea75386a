"""The verification handler on real PostgreSQL, through ``Consumer.process`` so the real inbox and outbox run.

Records are hand-built aiokafka ``ConsumerRecord``s; the registry is a CSV loaded by the real COPY loader. The
HTTP API is asked about the decisions the handler made.
"""

from __future__ import annotations

import asyncio
import csv
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from services.verification import domain
from services.verification.adapters.dci import DciRegistry
from services.verification.adapters.registry import CivilRegistry, SnapshotRegistry
from services.verification.api import rest
from services.verification.app import SPEC
from services.verification.bootstrap import Deps
from services.verification.errors import RegistryUnavailable
from services.verification.handlers import decide as handlers
from services.verification.handlers.loads import LoadResult, load_snapshot
from services.verification.repository.registry import REGISTRY_COLUMNS
from services.verification.settings import VerificationSettings
from shared import db, keys, topics
from shared.consumer import Consumer
from shared.contracts import (
    Address,
    EnrolmentEnded,
    Envelope,
    IdentityRejected,
    IdentityVerified,
    NominationSubmitted,
    Nominator,
    SupportingLetter,
    decode,
    encode,
    new_envelope,
)
from shared.regions import default_regions
from shared.service import Runtime
from tests import signed
from tests.operator import authenticate_operator

pytestmark = pytest.mark.integration

PREFIX = "t."
SECRET = "test-secret-0123456789"
NOMINATOR = Nominator(type="desa", name="Kepala Desa Senyiur", region_code="64.08.01.2001")
LETTER = SupportingLetter(number="141/05/DS-SNY/XI/2026", date=date(2026, 11, 2), issuer="Kepala Desa Senyiur")
SUBMITTED_AT = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # ages are counted on 21 November 2026 (WITA)
POLICY = domain.Policy(name_match_threshold=80, min_age=18, max_age=65)


# --------------------------------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Person:
    nik: str
    name: str
    born: date
    sex: str
    kel_code: str = "64.08.01.2001"
    status: str = "HIDUP"

    def row(self) -> list[str]:
        values = {
            "NIK": self.nik,
            "NO_KK": self.nik[:6] + "0101220001",
            "NAMA_LGKP": self.name,
            "TMPT_LHR": "SANGATTA",
            "TGL_LHR": self.born.isoformat(),
            "JENIS_KLMIN": "LAKI-LAKI" if self.sex == "M" else "PEREMPUAN",
            "ALAMAT": "JL. POROS",
            "NO_RT": "001",
            "NO_RW": "002",
            "KEL_CODE": self.kel_code,
            "KEL_NAME": "SENYIUR",
            "KEC_NAME": "MUARA ANCALONG",
            "KAB_NAME": "KUTAI TIMUR",
            "PROP_NAME": "KALIMANTAN TIMUR",
            "JENIS_PKRJN": "PETANI/PEKEBUN",
            "STATUS_KAWIN": "KAWIN",
            "STATUS": self.status,
        }
        return [values[c] for c in REGISTRY_COLUMNS]


def nik_of(born: date, sex: str, serial: int, kecamatan: str = "640801") -> str:
    return f"{kecamatan}{born.day + (40 if sex == 'F' else 0):02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def registered(name: str, born: date, sex: str, serial: int, **kw: str) -> Person:
    return Person(nik_of(born, sex, serial, kw.pop("kecamatan", "640801")), name, born, sex, **kw)


CLEAN = registered("SITI AMINAH", date(1990, 1, 5), "F", 1)
# NIK from a kecamatan code missing from the region list, encoding the 10th while the registry says the 11th.
FLAGGED = Person(nik_of(date(1985, 6, 10), "M", 2, "640899"), "MUHAMMAD YUSUF", date(1985, 6, 11), "M")
DECEASED = registered("BAMBANG WIBOWO", date(1970, 3, 3), "M", 3, status="MATI")
INACTIVE = registered("SRI LESTARI", date(1975, 4, 4), "F", 4, status="TIDAK_AKTIF")
ELSEWHERE = registered("JUMADI", date(1980, 5, 5), "M", 5, kel_code="64.09.01.2001")
OTHER_NAME = registered("NURHAYATI LATIF", date(1982, 6, 6), "F", 6)
OTHER_BIRTH = registered("SUTRISNO", date(1983, 7, 7), "M", 7)
TOO_YOUNG = registered("RIZKY SAPUTRA", date(2010, 8, 8), "M", 8)
TWICE = registered("ARSYAD RAHMAN", date(1984, 9, 9), "M", 9)
MANY_FAULTS = registered("HASNAWATI", date(1950, 10, 10), "F", 10, status="MATI", kel_code="64.72.01.1001")
LATER = registered("YULIANA", date(1991, 11, 11), "F", 11)
REGISTRY = [
    CLEAN,
    FLAGGED,
    DECEASED,
    INACTIVE,
    ELSEWHERE,
    OTHER_NAME,
    OTHER_BIRTH,
    TOO_YOUNG,
    TWICE,
    MANY_FAULTS,
    LATER,
]
NOT_REGISTERED_NIK = nik_of(date(1986, 1, 1), "M", 99)


def submitted(
    person: Person | None = None, *, name: str | None = None, born: date | None = None, nik: str | None = None
) -> Envelope[NominationSubmitted]:
    nomination_id = uuid.uuid4()
    nik = nik or (person.nik if person else NOT_REGISTERED_NIK)
    payload = NominationSubmitted(
        nomination_id=nomination_id,
        nik=nik,
        full_name=name or (person.name.title() if person else "Agus Salim"),
        birth_date=born or (person.born if person else date(1986, 1, 1)),
        sex=person.sex if person else "M",  # type: ignore[arg-type]
        phone="+6281234567890",
        address=Address(kecamatan_code="64.08.01", desa_code="64.08.01.2001", rt="001", rw="002"),
        occupation="petani_pekebun",
        nominator=NOMINATOR,
        supporting_letter=LETTER,
        programme_regency="64.08",
    )
    envelope = new_envelope(
        payload, producer="nomination", person_key=keys.person_key(nik, SECRET), correlation_id=nomination_id
    )
    return envelope.model_copy(update={"occurred_at": SUBMITTED_AT})


_offsets = iter(range(10**9))


def record(value: bytes, key: bytes | None) -> ConsumerRecord[bytes, bytes]:
    topic = PREFIX + topics.NOMINATION_SUBMITTED
    return ConsumerRecord(
        topic, 0, next(_offsets), 0, 0, key, value, None, len(key or b""), len(value), signed.headers(topic, value)
    )


def records(envelopes: Sequence[Envelope[Any]]) -> list[ConsumerRecord[bytes, bytes]]:
    return [record(encode(env), env.person_key.encode()) for env in envelopes]


# --------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
async def dsn(create_database: Any) -> str:
    dsn = await create_database("verification")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    return dsn


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, 1, 10)
    yield pool
    await pool.close()


async def load_registry(dsn: str, folder: Path, people: Sequence[Person] = REGISTRY) -> LoadResult:
    path = folder / "registry.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REGISTRY_COLUMNS)
        writer.writerows(p.row() for p in people)
    return await load_snapshot(dsn, path, "test-registry")


def make_deps(
    pool: asyncpg.Pool, registry: CivilRegistry | None = None, dci: DciRegistry | None = None, **settings: Any
) -> Deps:
    """The service's Deps over the test database (the snapshot registry unless another is given)."""
    config = VerificationSettings(
        database_url="postgresql://unused/unused", kafka_bootstrap="unused:9092", topic_prefix=PREFIX, **settings
    )
    return Deps(pool, config, registry or SnapshotRegistry(pool), default_regions(), POLICY, dci)


def consumer_of(deps: Deps, max_attempts: int = 2) -> Consumer[NominationSubmitted]:
    """The nomination.submitted consumer as shared.service wires it: the handler bound to deps, prepare first."""

    async def handler(conn: Any, events: Sequence[Envelope[NominationSubmitted]]) -> list[Envelope[Any]]:
        return await handlers.nominations_submitted(deps, conn, events)

    async def prepare(events: Sequence[Envelope[NominationSubmitted]]) -> None:
        await handlers.prepare_submitted(deps, events)

    return Consumer(
        name="verification.nomination.submitted",
        topic=PREFIX + topics.NOMINATION_SUBMITTED,
        payload=NominationSubmitted,
        handler=handler,
        pool=deps.pool,
        max_attempts=max_attempts,
        topic_prefix=PREFIX,
        prepare=prepare,
    )


def make_consumer(pool: asyncpg.Pool, max_attempts: int = 2) -> Consumer[NominationSubmitted]:
    return consumer_of(make_deps(pool), max_attempts)


async def emitted(pool: asyncpg.Pool) -> list[tuple[str, bytes, Any]]:
    rows = await pool.fetch("SELECT topic, key, value, event_type FROM outbox ORDER BY id")
    return [(r["topic"], r["key"], r["value"] if r["event_type"] == "DeadLetter" else decode(r["value"])) for r in rows]


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {
        table: await pool.fetchval(f"SELECT count(*) FROM {table}") for table in ("verifications", "outbox", "inbox")
    }


# ------------------------------------------------------------------------------------------------------ tests


async def test_a_batch_mixing_every_outcome_is_decided_in_order_and_announced(dsn, pool, tmp_path):
    snapshot = await load_registry(dsn, tmp_path)
    consumer = make_consumer(pool)
    # The earlier batch verifies LATER, so the later nomination of the same person is a duplicate.
    earlier = submitted(LATER)
    await consumer.process(records([earlier]))

    batch = {
        "clean": submitted(CLEAN, name="Hj. Siti Aminah"),
        "flagged": submitted(FLAGGED, name="M. Yusuf"),
        "nik_invalid": submitted(nik="6408013201900001"),
        "not_found": submitted(),
        "deceased": submitted(DECEASED),
        "inactive": submitted(INACTIVE),
        "elsewhere": submitted(ELSEWHERE),
        "other_name": submitted(OTHER_NAME, name="Bambang Wibowo"),
        "other_birth": submitted(OTHER_BIRTH, born=date(1983, 7, 8)),
        "too_young": submitted(TOO_YOUNG),
        "twice_first": submitted(TWICE),
        "twice_again": submitted(TWICE, name="Arsyad Rahman"),
        "many_faults": submitted(MANY_FAULTS),
        "already_verified": submitted(LATER),
    }
    poison = record(b"{not json", b"somekey1")
    batch_records = records(list(batch.values()))
    await consumer.process([*batch_records[:3], poison, *batch_records[3:]])

    expected_reasons = {
        "clean": [],
        "flagged": [],
        "nik_invalid": ["NIK_INVALID"],
        "not_found": ["REGISTRY_NOT_FOUND"],
        "deceased": ["DECEASED"],
        "inactive": ["INACTIVE"],
        "elsewhere": ["OUTSIDE_PROGRAMME_REGENCY"],
        "other_name": ["NAME_MISMATCH"],
        "other_birth": ["BIRTH_DATE_MISMATCH"],
        "too_young": ["AGE_OUT_OF_RANGE"],
        "twice_first": [],
        "twice_again": ["DUPLICATE_PERSON"],
        "many_faults": ["DECEASED", "OUTSIDE_PROGRAMME_REGENCY", "AGE_OUT_OF_RANGE"],
        "already_verified": ["DUPLICATE_PERSON"],
    }
    out = await emitted(pool)
    decisions = [item for item in out if not isinstance(item[2], bytes)]
    dead = [item for item in out if isinstance(item[2], bytes)]
    assert len(decisions) == 1 + len(batch)
    assert dead == [(PREFIX + topics.dlq(topics.NOMINATION_SUBMITTED), b"somekey1", b"{not json")]

    by_nomination = {env.correlation_id: (topic, key, env) for topic, key, env in decisions}
    for label, cause in {"earlier": earlier, **batch}.items():
        topic, key, env = by_nomination[cause.payload.nomination_id]
        reasons = expected_reasons.get(label, [])
        if reasons:
            assert topic == PREFIX + topics.IDENTITY_REJECTED, label
            assert isinstance(env.payload, IdentityRejected)
            assert [r.code for r in env.payload.reasons] == reasons, label
            assert env.payload.nominator == NOMINATOR and env.payload.desa_code == "64.08.01.2001"
            for reason in env.payload.reasons:
                assert cause.payload.nik not in reason.detail and cause.payload.full_name not in reason.detail
        else:
            assert topic == PREFIX + topics.IDENTITY_VERIFIED, label
            assert isinstance(env.payload, IdentityVerified)
        assert key == cause.person_key.encode() and env.person_key == cause.person_key
        assert env.correlation_id == env.payload.nomination_id == cause.payload.nomination_id
        assert env.causation_id == cause.event_id
        assert env.producer == "verification"

    clean = by_nomination[batch["clean"].payload.nomination_id][2].payload
    assert (clean.full_name, clean.birth_date, clean.sex, clean.name_score, clean.flags) == (
        "SITI AMINAH",
        CLEAN.born,
        "F",
        100,
        (),
    )
    assert clean.nik == CLEAN.nik and clean.phone == "+6281234567890" and clean.programme_regency == "64.08"
    flagged = by_nomination[batch["flagged"].payload.nomination_id][2].payload
    assert flagged.full_name == "MUHAMMAD YUSUF" and flagged.name_score == 100
    assert [f.code for f in flagged.flags] == ["NIK_KECAMATAN_UNKNOWN", "NIK_BIRTHDATE_MISMATCH"]

    # The decisions are explainable from the table alone.
    rows = {r["nomination_id"]: r for r in await pool.fetch("SELECT * FROM verifications")}
    assert len(rows) == 1 + len(batch)
    for label, cause in batch.items():
        row = rows[cause.payload.nomination_id]
        assert row["outcome"] == ("rejected" if expected_reasons[label] else "verified"), label
        assert [r["code"] for r in row["reasons"]] == expected_reasons[label]
        assert row["person_key"] == cause.person_key and row["source_event_id"] == cause.event_id
        assert row["event_id"] == by_nomination[cause.payload.nomination_id][2].event_id
        assert row["registry_snapshot_id"] == snapshot.snapshot_id
        assert {c["check"] for c in row["checks"]} >= {"nik_structure", "duplicate_person", "age_limits"}
    flagged_row = rows[batch["flagged"].payload.nomination_id]
    assert [f["code"] for f in flagged_row["flags"]] == ["NIK_KECAMATAN_UNKNOWN", "NIK_BIRTHDATE_MISMATCH"]
    other_name = rows[batch["other_name"].payload.nomination_id]
    assert other_name["name_score"] < 80
    expected_check = {"layer": "civil_registry", "check": "name_match", "status": "failed", "codes": ["NAME_MISMATCH"]}
    assert expected_check in other_name["checks"]
    assert rows[batch["not_found"].payload.nomination_id]["name_score"] is None
    assert consumer.stats.processed == 1 + len(batch) and consumer.stats.dead_lettered == 1

    # One verified row per person: the partial unique index holds whatever the code does.
    verified = await pool.fetch("SELECT person_key FROM verifications WHERE outcome = 'verified'")
    assert len(verified) == len({r["person_key"] for r in verified}) == 4

    # Redelivery of the whole batch, and the same nomination re-sent under a new event id: nothing new.
    before = await counts(pool)
    await consumer.process([*batch_records, poison])
    resent = batch["clean"].model_copy(update={"event_id": uuid.uuid4()})
    await consumer.process(records([resent]))
    after = await counts(pool)
    assert after == before | {"inbox": before["inbox"] + 1}
    assert consumer.stats.duplicates == len(batch)


async def test_the_handler_itself_keeps_the_same_person_twice_in_one_batch_apart(dsn, pool, tmp_path):
    # Called directly in one transaction: the consumer's one-by-one fallback must not be what saves the batch.
    await load_registry(dsn, tmp_path)
    deps = make_deps(pool)
    first, again, rejected_then_again = submitted(TWICE), submitted(TWICE), submitted(DECEASED)
    async with pool.acquire() as conn, conn.transaction():
        await handlers.nominations_submitted(deps, conn, [rejected_then_again, first, again, submitted(DECEASED)])
    rows = await pool.fetch("SELECT nomination_id, outcome, reasons FROM verifications")
    outcome = {r["nomination_id"]: (r["outcome"], [x["code"] for x in r["reasons"]]) for r in rows}
    assert outcome[first.payload.nomination_id] == ("verified", [])
    assert outcome[again.payload.nomination_id] == ("rejected", ["DUPLICATE_PERSON"])
    assert outcome[rejected_then_again.payload.nomination_id] == ("rejected", ["DECEASED"])  # a rejection blocks no one


async def test_the_partial_unique_index_refuses_a_second_verified_row_for_a_person(pool):
    insert = """
        INSERT INTO verifications (nomination_id, person_key, outcome, event_id, source_event_id)
        VALUES ($1, 'person-key-1', $2, $3, $4)
    """
    await pool.execute(insert, uuid.uuid4(), "verified", uuid.uuid4(), uuid.uuid4())
    await pool.execute(insert, uuid.uuid4(), "rejected", uuid.uuid4(), uuid.uuid4())
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(insert, uuid.uuid4(), "verified", uuid.uuid4(), uuid.uuid4())


async def test_without_a_loaded_registry_the_batch_is_retried_not_rejected(dsn, pool, tmp_path):
    consumer = make_consumer(pool, max_attempts=2)
    batch = records([submitted(CLEAN), submitted(DECEASED)])
    with pytest.raises(RegistryUnavailable):
        await consumer.process(batch)
    assert await counts(pool) == {"verifications": 0, "outbox": 0, "inbox": 0}
    assert consumer.stats.retries == 1

    await load_registry(dsn, tmp_path)
    await consumer.process(batch)  # Kafka redelivers the nacked batch once the registry is there
    assert (await counts(pool))["verifications"] == 2


# -------------------------------------------------------------------------------------------------------- API


@pytest.fixture
async def client(dsn: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(rest.router)
    settings = VerificationSettings(database_url=dsn, kafka_bootstrap="unused:9092")
    # Only what the routes use: the API needs neither Kafka nor the relay.
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = make_deps(pool)
    headers = authenticate_operator(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://verification", headers=headers) as c:
        yield c


async def test_the_api_explains_a_decision_without_personal_data(dsn, pool, tmp_path, client):
    response = await client.get("/v1/registry/snapshots")
    assert response.status_code == 200 and response.json() == {"latest": None, "recent": []}
    snapshot = await load_registry(dsn, tmp_path)
    clean, dead = submitted(CLEAN, name="Hj. Siti Aminah"), submitted(MANY_FAULTS)
    await make_consumer(pool).process(records([clean, dead]))

    response = await client.get(f"/v1/verifications/{dead.payload.nomination_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "rejected" and body["nomination_id"] == str(dead.payload.nomination_id)
    assert [r["code"] for r in body["reasons"]] == ["DECEASED", "OUTSIDE_PROGRAMME_REGENCY", "AGE_OUT_OF_RANGE"]
    assert body["registry_snapshot_id"] == snapshot.snapshot_id
    status_check = {"check": "registry_status", "status": "failed", "codes": ["DECEASED"], "note": ""}
    assert status_check | {"layer": "civil_registry"} in body["checks"]
    assert MANY_FAULTS.nik not in response.text and "HASNAWATI" not in response.text.upper()

    body = (await client.get(f"/v1/verifications/{clean.payload.nomination_id}")).json()
    assert (body["outcome"], body["reasons"], body["flags"], body["name_score"]) == ("verified", [], [], 100)
    assert CLEAN.nik not in str(body) and "SITI" not in str(body).upper()

    assert (await client.get(f"/v1/verifications/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/v1/verifications/not-a-uuid")).status_code == 422

    latest = (await client.get("/v1/registry/snapshots")).json()["latest"]
    assert latest["id"] == snapshot.snapshot_id and latest["row_count"] == len(REGISTRY)
    assert latest["sha256"] == snapshot.sha256 and latest["source_name"] == "test-registry"


async def test_a_person_whose_cover_ended_is_verified_again_not_refused_as_a_duplicate(dsn, pool, tmp_path):
    await load_registry(dsn, tmp_path)
    deps = make_deps(pool)
    first, while_covered, after_end = submitted(TWICE), submitted(TWICE), submitted(TWICE)
    async with pool.acquire() as conn, conn.transaction():
        await handlers.nominations_submitted(deps, conn, [first, while_covered])
    end = EnrolmentEnded(
        nomination_id=first.payload.nomination_id, membership_number="26000000001", funding_source="APBD-KAB",
        programme_year=2026, reason="opted_out", coverage_end=date(2026, 12, 31), full_name="x", phone="+62812",
        desa_code="64.08.01.2001", nominator=NOMINATOR,
    )  # fmt: skip
    ended = new_envelope(end, producer="enrolment", person_key=first.person_key, correlation_id=end.nomination_id)
    async with pool.acquire() as conn, conn.transaction():
        await handlers.enrolment_ended(deps, conn, [ended])
        await handlers.nominations_submitted(deps, conn, [after_end])
    rows = await pool.fetch("SELECT nomination_id, outcome, reasons FROM verifications")
    outcome = {r["nomination_id"]: (r["outcome"], [x["code"] for x in r["reasons"]]) for r in rows}
    assert outcome[first.payload.nomination_id] == ("ended", [])
    assert outcome[while_covered.payload.nomination_id] == ("rejected", ["DUPLICATE_PERSON"])
    assert outcome[after_end.payload.nomination_id] == ("verified", [])
