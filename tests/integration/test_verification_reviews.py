"""Layered verification on real PostgreSQL: fuzzy duplicates into the review queue, the verifiers' HTTP API
(list, inspect, decide -> outbox + audit), resubmissions, the wage-earner roster and registry-refresh life events.

Reuses the people, registry loader and consumer of ``test_verification_handler``.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.verification.api import rest
from services.verification.errors import RegistryFileRefused
from services.verification.handlers.loads import LoadResult, load_roster, load_snapshot
from services.verification.repository.registry import REGISTRY_COLUMNS
from services.verification.settings import VerificationSettings
from shared import topics
from shared.auth import ApiKeyStore, Authenticator, hash_api_key, new_api_key
from shared.contracts import (
    Envelope,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    RegistryPersonUpdated,
    new_envelope,
)
from shared.service import Runtime
from tests.integration.test_verification_handler import (
    PREFIX,
    SUBMITTED_AT,
    Person,
    dsn,  # noqa: F401  (fixture)
    emitted,
    load_registry,
    make_consumer,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    registered,
    submitted,
)

pytestmark = pytest.mark.integration

# Two NIKs, one person (same name, birth date, KK: the KK follows the NIK's kecamatan in these rows).
SITI = registered("SITI AMINAH", date(1990, 1, 5), "F", 31)
SITI_AGAIN = registered("SITI AMINAH", date(1990, 1, 5), "F", 32)
AHMAD = registered("AHMAD FAUZI", date(1979, 2, 2), "M", 33)
AHMAD_AGAIN = registered("ACHMAD FAUZI", date(1979, 2, 2), "M", 34)
BUDI = registered("BUDI SANTOSO", date(1988, 3, 3), "M", 35)
PEOPLE = [SITI, SITI_AGAIN, AHMAD, AHMAD_AGAIN, BUDI]


def resubmitted(env: Envelope[NominationSubmitted], **changes: Any) -> Envelope[NominationSubmitted]:
    """A new nomination (new id) of the same person, with corrected fields."""
    nomination_id = uuid.uuid4()
    payload = env.payload.model_copy(update={"nomination_id": nomination_id, **changes})
    new = new_envelope(payload, producer="nomination", person_key=env.person_key, correlation_id=nomination_id)
    return new.model_copy(update={"occurred_at": SUBMITTED_AT})


# The reviewer recorded is the authenticated caller: one key per verifier.
KEYS = {"verifikator-1": new_api_key(), "verifikator-2": new_api_key()}


@pytest.fixture
async def client(dsn: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    app = FastAPI()
    app.include_router(rest.router)
    settings = VerificationSettings(database_url=dsn, kafka_bootstrap="unused:9092", topic_prefix=PREFIX)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = make_deps(pool)
    app.state.authenticator = Authenticator(
        ApiKeyStore.from_config({hash_api_key(key): {"name": name, "role": "verifier"} for name, key in KEYS.items()})
    )
    headers = {"X-API-Key": KEYS["verifikator-1"]}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://verification", headers=headers) as c:
        yield c


async def load_with_prefix(dsn: str, folder: Path, people: list[Person]) -> LoadResult:  # noqa: F811
    path = folder / "registry.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REGISTRY_COLUMNS)
        writer.writerows(p.row() for p in people)
    return await load_snapshot(dsn, path, "refresh", topic_prefix=PREFIX)


def by_nomination(out: list[tuple[str, bytes, Any]]) -> dict[uuid.UUID, list[tuple[str, Any]]]:
    found: dict[uuid.UUID, list[tuple[str, Any]]] = {}
    for topic, _key, env in out:
        if not isinstance(env, bytes):
            found.setdefault(env.correlation_id, []).append((topic, env))
    return found


async def test_a_probable_duplicate_under_another_nik_waits_for_a_verifier_who_decides(dsn, pool, tmp_path, client):  # noqa: F811
    await load_registry(dsn, tmp_path, PEOPLE)
    consumer = make_consumer(pool)
    siti, siti_again, budi = submitted(SITI), submitted(SITI_AGAIN), submitted(BUDI)
    ahmad, ahmad_again = submitted(AHMAD), submitted(AHMAD_AGAIN, name="Achmad Fauzi")
    # one batch: the duplicate is found against someone verified earlier in the same batch, too
    await consumer.process(records([siti, siti_again, budi, ahmad, ahmad_again]))

    events = by_nomination(await emitted(pool))
    assert [t for t, _ in events[siti.payload.nomination_id]] == [PREFIX + topics.IDENTITY_VERIFIED]
    assert [t for t, _ in events[budi.payload.nomination_id]] == [PREFIX + topics.IDENTITY_VERIFIED]
    [(topic, review_event)] = events[siti_again.payload.nomination_id]
    assert topic == PREFIX + topics.IDENTITY_REVIEW_REQUESTED
    assert isinstance(review_event.payload, IdentityReviewRequested)
    assert review_event.payload.layer == "duplicates"
    assert [r.code for r in review_event.payload.reasons] == ["POSSIBLE_DUPLICATE"]
    assert review_event.person_key == siti_again.person_key
    assert [t for t, _ in events[ahmad_again.payload.nomination_id]] == [PREFIX + topics.IDENTITY_REVIEW_REQUESTED]

    # the queue, filtered by desa
    listed = (await client.get("/v1/reviews", params={"status": "open"})).json()
    assert [i["nomination_id"] for i in listed["items"]] == [
        str(siti_again.payload.nomination_id),
        str(ahmad_again.payload.nomination_id),
    ]
    assert listed["next_after_id"] is None
    elsewhere = await client.get("/v1/reviews", params={"desa_code": "64.08.02.2001"})
    assert elsewhere.json()["items"] == []
    case_id = listed["items"][0]["id"]

    # the evidence side by side, NIKs masked
    response = await client.get(f"/v1/reviews/{case_id}")
    assert response.status_code == 200
    case = response.json()
    assert SITI.nik not in response.text and SITI_AGAIN.nik not in response.text
    assert case["nomination"]["nik_masked"] == SITI_AGAIN.nik[:4] + "*" * 10 + SITI_AGAIN.nik[-2:]
    assert case["nomination"]["full_name"] == "SITI AMINAH" and case["nomination"]["birth_date"] == "1990-01-05"
    [candidate] = case["candidates"]
    assert candidate["nomination_id"] == str(siti.payload.nomination_id)
    assert candidate["kk_match"] is True and candidate["same_desa"] is True and candidate["name_score"] == 100
    assert candidate["full_name"] == "SITI AMINAH" and candidate["birth_date"] == "1990-01-05"
    # names and birth dates were shown: the reads are audited with the authenticated verifier
    reads = await pool.fetch("SELECT principal, action, subject_id, detail FROM audit_log ORDER BY id")
    assert [(r["principal"], r["action"], r["subject_id"]) for r in reads] == [
        ("verifikator-1", "reviews.listed", None),
        ("verifikator-1", "reviews.listed", None),
        ("verifikator-1", "review.read", str(case_id)),
    ]
    assert reads[0]["detail"]["ids"] == [i["id"] for i in listed["items"]]
    # ids beyond PostgreSQL's bigint and a NUL in the desa filter are refused at the edge, not by a 500
    assert (await client.get(f"/v1/reviews/{2**63}")).status_code == 422
    assert (await client.get("/v1/reviews", params={"after_id": 2**64})).status_code == 422
    assert (await client.get("/v1/reviews", params={"desa_code": "64.08\x00"})).status_code == 422

    # bad decisions are refused, nothing is written
    no_reason = {"decision": "reject"}
    assert (await client.post(f"/v1/reviews/{case_id}/decision", json=no_reason)).status_code == 422
    not_a_code = no_reason | {"reason_code": "NIK_KECAMATAN_UNKNOWN"}  # a flag, not a rejection code
    assert (await client.post(f"/v1/reviews/{case_id}/decision", json=not_a_code)).status_code == 422
    missing = no_reason | {"reason_code": "DUPLICATE_PERSON"}
    assert (await client.post("/v1/reviews/999999/decision", json=missing)).status_code == 404
    outbox_before = await pool.fetchval("SELECT count(*) FROM outbox")

    # reject: event + audit in one go
    body = no_reason | {"reason_code": "DUPLICATE_PERSON", "note": "KTP ganda, sudah terdaftar dengan NIK lain"}
    response = await client.post(f"/v1/reviews/{case_id}/decision", json=body)
    assert response.status_code == 200 and response.json()["event_type"] == "IdentityRejected"
    assert (await client.post(f"/v1/reviews/{case_id}/decision", json=body)).status_code == 409
    assert await pool.fetchval("SELECT count(*) FROM outbox") == outbox_before + 1
    rejected = by_nomination(await emitted(pool))[siti_again.payload.nomination_id][-1][1]
    assert isinstance(rejected.payload, IdentityRejected)
    assert [r.code for r in rejected.payload.reasons] == ["DUPLICATE_PERSON"]
    assert str(rejected.event_id) == response.json()["event_id"]
    audit = await pool.fetch("SELECT * FROM review_decisions")
    assert [(a["review_id"], a["decision"], a["reason_code"], a["reviewer"]) for a in audit] == [
        (case_id, "reject", "DUPLICATE_PERSON", "verifikator-1")
    ]
    assert audit[0]["note"].startswith("KTP ganda") and audit[0]["event_id"] == rejected.event_id
    row = await pool.fetchrow("SELECT * FROM verifications WHERE nomination_id = $1", siti_again.payload.nomination_id)
    assert row["outcome"] == "rejected" and row["event_id"] == rejected.event_id
    inspected = (await client.get(f"/v1/reviews/{case_id}")).json()
    assert inspected["status"] == "rejected" and [d["reviewer"] for d in inspected["decisions"]] == ["verifikator-1"]

    # approve the other case: the registry's facts are announced, the person counts as verified from now on
    other_id = listed["items"][1]["id"]
    approve = {"decision": "approve", "note": "orang berbeda, dicek ke desa"}
    response = await client.post(
        f"/v1/reviews/{other_id}/decision", json=approve, headers={"X-API-Key": KEYS["verifikator-2"]}
    )
    assert response.status_code == 200 and response.json()["event_type"] == "IdentityVerified"
    approved = by_nomination(await emitted(pool))[ahmad_again.payload.nomination_id][-1][1]
    assert isinstance(approved.payload, IdentityVerified)
    assert approved.payload.full_name == "ACHMAD FAUZI" and approved.payload.nik == AHMAD_AGAIN.nik
    assert (await client.get("/v1/reviews", params={"status": "open"})).json()["items"] == []
    assert len((await client.get("/v1/reviews", params={"status": "approved"})).json()["items"]) == 1
    await consumer.process(records([resubmitted(ahmad_again)]))
    again = by_nomination(await emitted(pool))
    assert [r.code for r in list(again.values())[-1][-1][1].payload.reasons] == ["DUPLICATE_PERSON"]


async def test_a_person_in_review_is_not_nominated_twice_and_a_corrected_resubmission_is_checked_again(
    dsn,  # noqa: F811
    pool,  # noqa: F811
    tmp_path,
):
    await load_registry(dsn, tmp_path, PEOPLE)
    consumer = make_consumer(pool)
    siti, siti_again = submitted(SITI), submitted(SITI_AGAIN)
    no_letter = submitted(BUDI)
    no_letter = resubmitted(no_letter, supporting_letter=None)
    await consumer.process(records([siti, siti_again, no_letter]))
    # the same NIK while its first nomination waits for review: exact duplicate
    twice = resubmitted(siti_again)
    # the corrected resubmission (the letter attached) goes through every layer and passes
    corrected = resubmitted(no_letter, supporting_letter=submitted(BUDI).payload.supporting_letter)
    await consumer.process(records([twice, corrected]))

    rows = {r["nomination_id"]: r for r in await pool.fetch("SELECT * FROM verifications")}
    assert rows[siti_again.payload.nomination_id]["outcome"] == "in_review"
    assert [r["code"] for r in rows[no_letter.payload.nomination_id]["reasons"]] == ["LETTER_MISSING"]
    assert [r["code"] for r in rows[twice.payload.nomination_id]["reasons"]] == ["DUPLICATE_PERSON"]
    fresh = rows[corrected.payload.nomination_id]
    assert fresh["outcome"] == "verified"
    assert {c["layer"] for c in fresh["checks"]} == {"structure", "duplicates", "civil_registry", "employment"}
    assert all(c["status"] == "passed" for c in fresh["checks"] if c["check"] != "sex_match")


async def test_the_wage_earner_roster_rejects_employed_people(dsn, pool, tmp_path):  # noqa: F811
    await load_registry(dsn, tmp_path, PEOPLE)
    roster = tmp_path / "pu.csv"
    roster.write_text(f"NIK\n{BUDI.nik}\n{BUDI.nik}\n1234567890123456\n")
    snapshot_id, count = await load_roster(dsn, roster, "bpjs-pu-2026-11")
    assert count == 2 and snapshot_id >= 1
    bad = tmp_path / "bad.csv"
    bad.write_text("NIK\n12345\n")
    with pytest.raises(RegistryFileRefused):
        await load_roster(dsn, bad)
    with pytest.raises(RegistryFileRefused):
        (tmp_path / "hdr.csv").write_text("NO_KPJ\n1\n")
        await load_roster(dsn, tmp_path / "hdr.csv")
    assert await pool.fetchval("SELECT count(*) FROM wage_earners") == 2  # refused files change nothing

    consumer = make_consumer(pool)
    budi, siti = submitted(BUDI), submitted(SITI)
    await consumer.process(records([budi, siti]))
    rows = {r["nomination_id"]: r for r in await pool.fetch("SELECT * FROM verifications")}
    assert [r["code"] for r in rows[budi.payload.nomination_id]["reasons"]] == ["WAGE_EARNER"]
    assert rows[siti.payload.nomination_id]["outcome"] == "verified"


async def test_a_registry_refresh_announces_deaths_and_moves_of_verified_people(dsn, pool, tmp_path):  # noqa: F811
    await load_registry(dsn, tmp_path, PEOPLE)
    consumer = make_consumer(pool)
    nominated = {p.nik: submitted(p) for p in (SITI, AHMAD, BUDI)}
    await consumer.process(records(list(nominated.values())))
    before = len(await emitted(pool))

    refreshed = [
        Person(SITI.nik, SITI.name, SITI.born, SITI.sex, status="MATI"),
        Person(AHMAD.nik, AHMAD.name, AHMAD.born, AHMAD.sex, kel_code="64.72.01.1001"),
        Person(BUDI.nik, BUDI.name, BUDI.born, BUDI.sex, kel_code="64.08.02.2001"),  # moved within the regency
        SITI_AGAIN,  # never verified: no event
        Person(AHMAD_AGAIN.nik, AHMAD_AGAIN.name, AHMAD_AGAIN.born, AHMAD_AGAIN.sex, status="MATI"),
    ]
    path = Path(tmp_path) / "refresh"
    path.mkdir()
    result = await load_with_prefix(dsn, path, refreshed)
    assert result.life_events == 2
    updates = [env for _t, _k, env in (await emitted(pool))[before:]]
    by_nik = {env.payload.nik: env for env in updates}
    assert all(isinstance(env.payload, RegistryPersonUpdated) for env in updates)
    dead, moved = by_nik[SITI.nik], by_nik[AHMAD.nik]
    assert (dead.payload.change, dead.payload.new_regency) == ("deceased", None)
    assert (moved.payload.change, moved.payload.new_regency) == ("moved_out", "64.72")
    for env in (dead, moved):
        cause = nominated[env.payload.nik]
        assert env.payload.nomination_id == cause.payload.nomination_id == env.correlation_id
        assert env.person_key == cause.person_key and env.payload.snapshot_id == result.snapshot_id
    topics_out = {t for t, _k, _e in (await emitted(pool))[before:]}
    assert topics_out == {PREFIX + topics.REGISTRY_PERSON_UPDATED}

    # the same snapshot again announces nothing new
    again = Path(tmp_path) / "again"
    again.mkdir()
    assert (await load_with_prefix(dsn, again, refreshed)).life_events == 0


async def test_a_refused_refresh_publishes_nothing(dsn, pool, tmp_path):  # noqa: F811
    await load_registry(dsn, tmp_path, PEOPLE)
    await make_consumer(pool).process(records([submitted(SITI)]))
    before = len(await emitted(pool))
    bad = tmp_path / "bad.csv"
    bad.write_text((tmp_path / "registry.csv").read_text().replace(",HIDUP", ",MATI").replace(SITI.nik, "12345"))
    with pytest.raises(RegistryFileRefused):
        await load_snapshot(dsn, bad, topic_prefix=PREFIX)
    assert len(await emitted(pool)) == before
