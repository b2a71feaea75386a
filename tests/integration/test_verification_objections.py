"""Objections (sanggahan) in verification on real PostgreSQL: filed -> case in the queue -> taken up -> upheld ->
the re-run's result with ``objection_id`` in the outbox (fresh registry answer, cleared suspicions waived);
dismissed; a decided case decided again (409); two decisions at once; evidence that is not what it says, an
objection about an undecided nomination and a forged producer dead-lettered; replays idempotent; the REST API's
evidence download is an attachment of the right type.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from services.verification.api import objections as objections_api
from services.verification.bootstrap import Deps
from services.verification.commands import DecideObjection, ReviewQueue, TakeUpObjection
from services.verification.errors import ObjectionClosed, ObjectionNotRerunnable
from services.verification.handlers import objections, reads
from services.verification.settings import VerificationSettings
from shared import http, messaging, topics
from shared.auth import ApiKeyStore, Authenticator, Principal, Role, hash_api_key, new_api_key
from shared.consumer import Consumer
from shared.contracts import (
    Envelope,
    Evidence,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    ObjectionFiled,
    ObjectionReviewed,
    encode,
    new_envelope,
)
from shared.service import Runtime
from tests import signed
from tests.integration.test_verification_handler import (
    CLEAN,
    NOMINATOR,
    OTHER_NAME,
    PREFIX,
    REGISTRY,
    Person,
    dsn,  # noqa: F401  (fixture)
    emitted,
    load_registry,
    make_consumer,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    submitted,
)
from tests.integration.test_verification_reviews import PEOPLE, SITI, SITI_AGAIN

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n% surat keterangan kepala desa\n%%EOF\n"
REVIEWER = Principal("verifikator-1", Role.VERIFIER)
OTHER_REVIEWER = Principal("verifikator-2", Role.VERIFIER)
_offsets = iter(range(10**9))


def evidence(data: bytes = PDF, sha: str | None = None) -> Evidence:
    return Evidence(
        filename="surat.pdf",
        content_type="application/pdf",
        sha256=sha or hashlib.sha256(data).hexdigest(),
        data=base64.b64encode(data).decode(),
    )


def filed(
    nomination: Envelope[NominationSubmitted],
    *,
    ground: str = "rejected",
    reason: str = "data_corrected",
    proof: tuple[Evidence, ...] = (),
    objection_id: uuid.UUID | None = None,
) -> Envelope[ObjectionFiled]:
    p = nomination.payload
    payload = ObjectionFiled(
        objection_id=objection_id or uuid.uuid4(),
        nomination_id=p.nomination_id,
        ground=ground,  # type: ignore[arg-type]
        filed_by="nominator",
        channel="portal",
        reason_code=reason,  # type: ignore[arg-type]
        reason_text="Nama sudah diperbaiki di Dukcapil.",
        evidence=proof,
        filed_at=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
        due_by=date(2026, 12, 9),
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.address.desa_code,
        nominator=NOMINATOR,
    )
    return new_envelope(
        payload, producer="nomination", person_key=nomination.person_key, correlation_id=p.nomination_id
    )


def objection_records(envelopes: list[Envelope[Any]], producer: str | None = None) -> list[ConsumerRecord[Any, Any]]:
    topic = PREFIX + topics.OBJECTION_FILED
    out = []
    for env in envelopes:
        value, key = encode(env), env.person_key.encode()
        headers = signed.headers(topic, value, producer)
        out.append(ConsumerRecord(topic, 0, next(_offsets), 0, 0, key, value, None, len(key), len(value), headers))
    return out


def objection_consumer(deps: Deps) -> Consumer[ObjectionFiled]:
    async def handler(conn: Any, events: Any) -> list[Envelope[Any]]:
        return await objections.objections_filed(deps, conn, events)

    return Consumer(
        name="verification.objection.filed",
        topic=PREFIX + topics.OBJECTION_FILED,
        payload=ObjectionFiled,
        handler=handler,
        pool=deps.pool,
        max_attempts=2,
        topic_prefix=PREFIX,
    )


async def dead_letters(db: asyncpg.Pool) -> list[bytes]:
    rows = await db.fetch("SELECT headers FROM outbox WHERE event_type = 'DeadLetter' ORDER BY id")
    return [bytes(r["headers"]) for r in rows]


async def rejected_by_name(dsn: str, pool: asyncpg.Pool, tmp_path: Any) -> Envelope[NominationSubmitted]:  # noqa: F811
    """A nomination rejected for a name the registry did not hold (NAME_MISMATCH)."""
    await load_registry(dsn, tmp_path)
    nomination = submitted(OTHER_NAME, name="Nurhayati Rahman")
    await make_consumer(pool).process(records([nomination]))
    assert await pool.fetchval("SELECT outcome FROM verifications WHERE nomination_id = $1", ids(nomination)) == (
        "rejected"
    )
    return nomination


def ids(env: Envelope[Any]) -> uuid.UUID:
    return env.payload.nomination_id  # type: ignore[no-any-return]


async def decide(deps: Deps, objection_id: uuid.UUID, verdict: str, who: Principal = REVIEWER) -> Any:
    cmd = DecideObjection(caller=who, objection_id=objection_id, verdict=verdict, note="Sudah diperiksa.")  # type: ignore[arg-type]
    return await objections.decide_objection(deps, cmd)


async def test_filed_taken_up_upheld_reruns_with_a_fresh_registry_answer(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    objection = filed(nomination, proof=(evidence(),))
    await objection_consumer(deps).process(objection_records([objection]))
    oid = objection.payload.objection_id

    queue = await pool.fetch("SELECT objection_id, state FROM objections")
    assert [(r["objection_id"], r["state"]) for r in queue] == [(oid, "received")]
    stored = await pool.fetchval("SELECT data FROM objection_evidence WHERE objection_id = $1", oid)
    assert bytes(stored) == PDF

    taken = await messaging.run(deps, objections.take_up, TakeUpObjection(caller=REVIEWER, objection_id=oid))
    assert taken.state == "in_review"
    # the registry now holds the corrected name: the re-run must read it, not the cached rejection
    corrected = [p if p is not OTHER_NAME else Person(p.nik, "NURHAYATI RAHMAN", p.born, p.sex) for p in REGISTRY]
    await load_registry(dsn, tmp_path, corrected)
    decided = await decide(deps, oid, "upheld")
    assert decided.state == "upheld" and decided.result_event_type == "IdentityVerified"

    out = [env for _t, _k, env in await emitted(pool) if not isinstance(env, bytes)]
    reviewed = [e for e in out if isinstance(e.payload, ObjectionReviewed)]
    assert [e.payload.state for e in reviewed] == ["in_review", "upheld"]
    assert all(e.person_key == nomination.person_key for e in reviewed)
    [result] = [e for e in out if isinstance(e.payload, IdentityVerified)]
    assert result.payload.objection_id == oid and result.payload.full_name == "NURHAYATI RAHMAN"
    assert result.causation_id == reviewed[-1].event_id
    row = await pool.fetchrow("SELECT outcome, event_id FROM verifications WHERE nomination_id = $1", ids(nomination))
    assert (row["outcome"], row["event_id"]) == ("verified", result.event_id)
    actions = await pool.fetch("SELECT action, principal FROM audit_log WHERE action LIKE 'objection.%' ORDER BY id")
    assert [(a["action"], a["principal"]) for a in actions] == [
        ("objection.taken_up", "verifikator-1"),
        ("objection.decided", "verifikator-1"),
    ]


async def test_a_cleared_duplicate_suspicion_is_waived_on_the_rerun(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    await load_registry(dsn, tmp_path, PEOPLE)
    siti, again = submitted(SITI), submitted(SITI_AGAIN)
    await make_consumer(pool).process(records([siti, again]))
    case = await pool.fetchval("SELECT id FROM reviews WHERE nomination_id = $1", ids(again))
    from services.verification.commands import DecideReview
    from services.verification.handlers import reviews

    reject = DecideReview(caller=REVIEWER, review_id=case, verdict="reject", reason_code="DUPLICATE_PERSON", note="x")
    await messaging.run(deps, reviews.decide, reject)
    objection = filed(again, reason="not_duplicate")
    await objection_consumer(deps).process(objection_records([objection]))
    decided = await decide(deps, objection.payload.objection_id, "upheld")
    assert decided.waived == ("POSSIBLE_DUPLICATE",)
    assert decided.result_event_type == "IdentityVerified"
    assert await pool.fetchval("SELECT outcome FROM verifications WHERE nomination_id = $1", ids(again)) == "verified"


async def test_dismissed_changes_nothing_but_the_case(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    objection = filed(nomination)
    await objection_consumer(deps).process(objection_records([objection]))
    before = len(await emitted(pool))
    decided = await decide(deps, objection.payload.objection_id, "dismissed")
    out = (await emitted(pool))[before:]
    assert [type(e.payload) for _t, _k, e in out] == [ObjectionReviewed]
    assert out[0][2].payload.state == "dismissed" and out[0][2].payload.note == "Sudah diperiksa."
    assert decided.result_event_type is None
    assert await pool.fetchval("SELECT outcome FROM verifications WHERE nomination_id = $1", ids(nomination)) == (
        "rejected"
    )


async def test_a_decided_case_is_not_decided_again_and_of_two_at_once_one_wins(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    first, second = filed(nomination), filed(nomination)
    await objection_consumer(deps).process(objection_records([first, second]))

    await decide(deps, first.payload.objection_id, "dismissed")
    before = await pool.fetchval("SELECT count(*) FROM outbox")
    with pytest.raises(ObjectionClosed):
        await decide(deps, first.payload.objection_id, "upheld")
    assert await pool.fetchval("SELECT count(*) FROM outbox") == before

    async def attempt(who: Principal, verdict: str) -> Any:
        try:
            return await decide(deps, second.payload.objection_id, verdict, who)
        except ObjectionClosed as exc:
            return exc

    results = await asyncio.gather(attempt(REVIEWER, "dismissed"), attempt(OTHER_REVIEWER, "upheld"))
    assert sorted(type(r).__name__ for r in results) == ["ObjectionClosed", "ObjectionDecided"]
    reviewed = await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'ObjectionReviewed'")
    assert reviewed == 2  # one per case: the loser wrote nothing
    decisions = await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'objection.decided'")
    assert decisions == 2


async def test_replays_and_hostile_objections(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    consumer = objection_consumer(deps)
    objection = filed(nomination, proof=(evidence(),))
    replayed = objection.model_copy(update={"event_id": uuid.uuid4()})  # the same objection under a new event id
    [record] = objection_records([objection])
    await consumer.process([record, *objection_records([replayed])])
    await consumer.process([record])  # redelivered
    assert await pool.fetchval("SELECT count(*) FROM objections") == 1
    assert await pool.fetchval("SELECT count(*) FROM objection_evidence") == 1

    mismatch = filed(nomination, proof=(evidence(sha="0" * 64),))
    html = filed(nomination, proof=(evidence(b"<html><script>alert(1)</script></html>"),))
    undecided = filed(submitted(OTHER_NAME))  # never submitted to verification
    forged = filed(nomination)
    await consumer.process(objection_records([mismatch, html, undecided]) + objection_records([forged], "enrolment"))
    causes = await dead_letters(pool)
    assert len(causes) == 4
    for cause in (b"sha256 does not match", b"is not application/pdf", b"never decided", b"x-dlq-reason"):
        assert sum(cause in c for c in causes) >= 1
    assert sum(b"evidence_refused" in c for c in causes) == 2  # the sha256 mismatch and the HTML 'PDF'
    assert sum(b"objection_undecided" in c for c in causes) == 1
    assert await pool.fetchval("SELECT count(*) FROM objections") == 1


async def test_an_objection_on_the_wrong_ground_is_a_dead_letter(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    await objection_consumer(deps).process(objection_records([filed(nomination, ground="ended", reason="not_moved")]))
    [cause] = await dead_letters(pool)
    assert b"objection_ground_mismatch" in cause


KEYS = {"verifikator-1": new_api_key(), "auditor-1": new_api_key()}


@pytest.fixture
async def client(dsn: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    app = FastAPI()
    http.install_error_format(app)  # as the service does: field-level reasons, never the value sent
    app.include_router(objections_api.router)
    settings = VerificationSettings(database_url=dsn, kafka_bootstrap="unused:9092", topic_prefix=PREFIX)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = make_deps(pool)
    app.state.authenticator = Authenticator(
        ApiKeyStore.from_config(
            {
                hash_api_key(KEYS["verifikator-1"]): {"name": "verifikator-1", "role": "verifier"},
                hash_api_key(KEYS["auditor-1"]): {"name": "auditor-1", "role": "auditor"},
            }
        )
    )
    transport = httpx.ASGITransport(app=app)
    headers = {"X-API-Key": KEYS["verifikator-1"]}
    async with httpx.AsyncClient(transport=transport, base_url="http://verification", headers=headers) as c:
        yield c


async def test_the_rest_api_lists_by_deadline_serves_evidence_as_attachment_and_refuses_bad_notes(
    dsn,  # noqa: F811
    pool,  # noqa: F811
    tmp_path,
    client,
) -> None:
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    later, earlier = filed(nomination, proof=(evidence(),)), filed(nomination)
    earlier = earlier.model_copy(update={"payload": earlier.payload.model_copy(update={"due_by": date(2020, 1, 1)})})
    await objection_consumer(deps).process(objection_records([later, earlier]))

    listed = (await client.get("/v1/objections")).json()["items"]
    assert [i["objection_id"] for i in listed] == [str(earlier.payload.objection_id), str(later.payload.objection_id)]
    assert [i["overdue"] for i in listed] == [True, False]

    oid = later.payload.objection_id
    case = (await client.get(f"/v1/objections/{oid}")).json()
    assert case["original_decision"]["reasons"][0]["code"] == "NAME_MISMATCH"
    assert case["evidence"][0]["content_type"] == "application/pdf"
    got = await client.get(f"/v1/objections/{oid}/evidence/0")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == 'attachment; filename="surat.pdf"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"/v1/objections/{oid}/evidence/1")).status_code == 404
    assert (await client.get(f"/v1/objections/{oid}/evidence/9")).status_code == 422

    before = await pool.fetchval("SELECT count(*) FROM outbox")
    long_note = {"decision": "upheld", "note": "x" * 1001}
    assert (
        await client.post(f"/v1/objections/{oid}/decision", json={"decision": "maybe", "note": "a"})
    ).status_code == 422
    refused = await client.post(f"/v1/objections/{oid}/decision", json=long_note)
    assert refused.status_code == 422 and "x" * 50 not in refused.text
    empty = await client.post(f"/v1/objections/{oid}/decision", json={"decision": "dismissed", "note": ""})
    assert empty.status_code == 422
    blank = await client.post(f"/v1/objections/{oid}/decision", json={"decision": "dismissed", "note": "   "})
    assert blank.status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM outbox") == before

    taken = await client.post(f"/v1/objections/{earlier.payload.objection_id}/take-up")
    assert taken.status_code == 200 and taken.json()["state"] == "in_review"
    assert (await client.post(f"/v1/objections/{earlier.payload.objection_id}/take-up")).status_code == 409
    assert (await client.post(f"/v1/objections/{uuid.uuid4()}/take-up")).status_code == 404
    assert (await client.post("/v1/objections/not-a-uuid/take-up")).status_code == 422
    ok = await client.post(f"/v1/objections/{oid}/decision", json={"decision": "dismissed", "note": "Tidak cukup."})
    assert ok.status_code == 200 and ok.json()["state"] == "dismissed"
    again = await client.post(f"/v1/objections/{oid}/decision", json={"decision": "upheld", "note": "Lagi."})
    assert again.status_code == 409
    reads_ = await pool.fetch("SELECT action FROM audit_log WHERE action LIKE 'objection.%' ORDER BY id")
    assert [r["action"] for r in reads_][:3] == ["objection.listed", "objection.read", "objection.evidence_read"]


async def test_a_rerun_that_needs_review_again_reopens_the_case(dsn, pool, tmp_path) -> None:  # noqa: F811
    """Rejected after review for another reason than the suspicion: the suspicion is not waived, so the re-run
    goes back to a verifier (the nomination's review case opened again, never a second case)."""
    deps = make_deps(pool)
    await load_registry(dsn, tmp_path, PEOPLE)
    siti, again = submitted(SITI), submitted(SITI_AGAIN)
    await make_consumer(pool).process(records([siti, again]))
    await pool.execute("UPDATE reviews SET reasons = '[]'::jsonb WHERE nomination_id = $1", ids(again))
    case = await pool.fetchval("SELECT id FROM reviews WHERE nomination_id = $1", ids(again))
    from services.verification.commands import DecideReview
    from services.verification.handlers import reviews

    reject = DecideReview(caller=REVIEWER, review_id=case, verdict="reject", reason_code="LETTER_MISSING", note="x")
    await messaging.run(deps, reviews.decide, reject)
    objection = filed(again)
    await objection_consumer(deps).process(objection_records([objection]))
    decided = await decide(deps, objection.payload.objection_id, "upheld")
    assert decided.result_event_type == IdentityReviewRequested.event_type
    reopened = await pool.fetch("SELECT status FROM reviews WHERE nomination_id = $1", ids(again))
    assert [r["status"] for r in reopened] == ["open"]
    queue = await messaging.run(deps, reads.review_queue, ReviewQueue(caller=REVIEWER))
    assert case in [r["id"] for r in queue]


async def test_upheld_on_an_ended_cover_makes_the_decision_verified_again(dsn, pool, tmp_path) -> None:  # noqa: F811
    """Enrolment gives the seat back; verification counts the person as verified again (duplicates), no re-run."""
    deps = make_deps(pool)
    await load_registry(dsn, tmp_path)
    member = submitted(CLEAN)
    await make_consumer(pool).process(records([member]))
    # its cover ended (what the enrolment.ended consumer records)
    await pool.execute("UPDATE verifications SET outcome = 'ended' WHERE nomination_id = $1", ids(member))
    objection = filed(member, ground="ended", reason="not_deceased")
    await objection_consumer(deps).process(objection_records([objection]))
    before = await pool.fetchval("SELECT count(*) FROM outbox")
    decided = await decide(deps, objection.payload.objection_id, "upheld")
    assert decided.result_event_type is None
    out = (await emitted(pool))[before:]
    assert [(type(e.payload), e.payload.state, e.payload.ground) for _t, _k, e in out] == [
        (ObjectionReviewed, "upheld", "ended")
    ]
    assert await pool.fetchval("SELECT outcome FROM verifications WHERE nomination_id = $1", ids(member)) == "verified"


async def test_two_objections_of_one_nomination_upheld_at_once_rerun_it_once(dsn, pool, tmp_path) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    first, second = filed(nomination), filed(nomination)
    await objection_consumer(deps).process(objection_records([first, second]))
    corrected = [p if p is not OTHER_NAME else Person(p.nik, "NURHAYATI RAHMAN", p.born, p.sex) for p in REGISTRY]
    await load_registry(dsn, tmp_path, corrected)

    async def attempt(objection: Envelope[ObjectionFiled], who: Principal) -> Any:
        try:
            return await decide(deps, objection.payload.objection_id, "upheld", who)
        except ObjectionNotRerunnable as exc:
            return exc

    results = await asyncio.gather(attempt(first, REVIEWER), attempt(second, OTHER_REVIEWER))
    assert sorted(type(r).__name__ for r in results) == ["ObjectionDecided", "ObjectionNotRerunnable"]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'IdentityVerified'") == 1
    assert await pool.fetchval("SELECT count(*) FROM objections WHERE state = 'upheld'") == 1
