"""Objections (sanggahan) and leads in the nomination service, on real PostgreSQL through the real consumer: filing
from the portal and the API by role and area, the NotObjectable cases, verification's reviews (replayed, forged,
contradicting), the re-run that makes a nomination live again (and the re-nominated race), leads' dedup and
scoping, and the retention of leads and decided objections' evidence."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord

from services.nomination.app import SPEC
from services.nomination.commands import FileObjection, ReceiveLead
from services.nomination.errors import InvalidLead, NotObjectable
from services.nomination.handlers import leads, objections, progress
from services.nomination.repository import objections as objection_repo
from services.nomination.topology import TOPOLOGY
from shared import db, messaging, outbox, retention, topology
from shared.consumer import Consumer
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    Envelope,
    IdentityRejected,
    IdentityVerified,
    Nominator,
    ObjectionReviewed,
    Payload,
    Reason,
    encode,
    new_envelope,
)
from tests import signed
from tests.portal_support import JAK_LUAY, KEYS, PDF, SENYIUR, nomination_app, nomination_deps, request

pytestmark = pytest.mark.integration
PREFIX = "t."
NOMINATOR = Nominator(type="desa", name="Kepala Desa", region_code=SENYIUR)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
_offsets = itertools.count()
_niks = itertools.count(1)


def nik() -> str:
    return f"64080145019{next(_niks):05d}"


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("nomination_objections")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = nomination_app(pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nomination") as c:
        yield c


def key(account: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[account]}


def consumer(pool: asyncpg.Pool) -> Consumer[Any]:
    """The service's ``progress`` group as shared/service.py wires it (every event it subscribes)."""
    first, *more = next(s for s in TOPOLOGY.subscriptions if s.group == "progress").events
    return Consumer(
        name="nomination.progress",
        topic=PREFIX + first.topic,
        payload=first,
        handler=functools.partial(progress.record_progress, nomination_deps(pool)),
        pool=pool,
        inbox_name=f"nomination.{first.topic}",
        more={PREFIX + p.topic: (p, f"nomination.{p.topic}") for p in more},
    )


def event(payload: Payload, person_key: str = "k" * 32) -> Envelope[Any]:
    nid = payload.nomination_id  # type: ignore[attr-defined]
    return new_envelope(payload, producer=topology.owner(payload.topic), person_key=person_key, correlation_id=nid)


def record(env: Envelope[Any]) -> ConsumerRecord[bytes, bytes]:
    topic, value, k = PREFIX + env.payload.topic, encode(env), env.person_key.encode()
    return ConsumerRecord(
        topic, 0, next(_offsets), 0, 0, k, value, None, len(k), len(value), signed.headers(topic, value)
    )


def rejected(nid: uuid.UUID, objection_id: uuid.UUID | None = None) -> IdentityRejected:
    return IdentityRejected(
        nomination_id=nid, reasons=(Reason(code="NAME_MISMATCH", detail="x"),), full_name="Siti",
        nominator=NOMINATOR, desa_code=SENYIUR, objection_id=objection_id,
    )  # fmt: skip


def verified(nid: uuid.UUID, objection_id: uuid.UUID | None = None) -> IdentityVerified:
    return IdentityVerified(
        nomination_id=nid, nik="6408014501900001", full_name="Siti", birth_date=date(1990, 1, 5), sex="F",
        phone="+6281234567890", desa_code=SENYIUR, occupation="nelayan", nominator=NOMINATOR,
        programme_regency="64.08", name_score=100, objection_id=objection_id,
    )  # fmt: skip


def reviewed(objection_id: uuid.UUID, nid: uuid.UUID, state: str) -> ObjectionReviewed:
    at = datetime.now(UTC)
    return ObjectionReviewed(
        objection_id=objection_id, nomination_id=nid, state=state, ground="rejected",  # type: ignore[arg-type]
        reason_code="data_corrected", note="KK sudah diperbaiki", filed_at=at, reviewed_at=at, full_name="Siti",
        phone="+6281234567890", desa_code=SENYIUR, nominator=NOMINATOR,
    )  # fmt: skip


def evidence(content: bytes, content_type: str = "application/pdf") -> dict[str, str]:
    return {
        "filename": "surat.pdf",
        "content_type": content_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        "data": base64.b64encode(content).decode(),
    }


async def submit(client: httpx.AsyncClient, person: str, desa: str = SENYIUR, account: str = "desa") -> uuid.UUID:
    r = await client.post("/v1/nominations", json=request(person, desa), headers=key(account))
    assert r.status_code == 202, r.text
    return uuid.UUID(r.json()["nomination_id"])


async def rejected_nomination(client: httpx.AsyncClient, pool: asyncpg.Pool, person: str | None = None) -> uuid.UUID:
    nid = await submit(client, person or nik())
    await consumer(pool).process([record(event(rejected(nid)))])
    return nid


async def dead_letters(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT headers FROM outbox WHERE event_type = 'DeadLetter' ORDER BY id")
    return [dict(outbox.unpack_headers(r["headers"]))["x-dlq-error-type"].decode() for r in rows]


async def file_api(client: httpx.AsyncClient, nid: uuid.UUID, account: str = "desa", **body: Any) -> httpx.Response:
    payload = {"reason_code": "data_corrected", "reason_text": "KK sudah diperbaiki", **body}
    return await client.post(f"/v1/nominations/{nid}/objections", json=payload, headers=key(account))


async def test_the_portal_files_an_objection_in_its_own_area_only(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    nid = await rejected_nomination(client, pool)
    url = f"/portal/usulan/{nid}/sanggahan"
    form = {"alasan": "data_corrected", "keterangan": "KK sudah diperbaiki"}
    files = [("bukti", ("kk.png", PNG, "application/octet-stream"))]
    other = await client.post(url, data=form, files=files, headers=key("elsewhere"))
    assert other.status_code == 403, other.text
    assert await pool.fetchval("SELECT count(*) FROM objections") == 0
    own = await client.post(url, data=form, files=files, headers=key("desa"))
    assert own.status_code == 303, own.text
    row = await pool.fetchrow("SELECT id, state, ground, filed_by, channel, due_by FROM objections")
    assert (row["state"], row["ground"], row["filed_by"], row["channel"]) == (
        "received",
        "rejected",
        "nominator",
        "portal",
    )
    assert row["due_by"] >= date.today() + timedelta(days=13)
    stored = await pool.fetchrow("SELECT content_type, size_bytes FROM objection_evidence")
    assert (stored["content_type"], stored["size_bytes"]) == ("image/png", len(PNG))  # by its bytes, not its name
    # ObjectionFiled keyed by the nomination's person key, correlated by the nomination id
    filed = await pool.fetchrow("SELECT key, value FROM outbox WHERE event_type = 'ObjectionFiled'")
    person_key = await pool.fetchval("SELECT person_key FROM nominations WHERE id = $1", nid)
    assert bytes(filed["key"]).decode() == person_key
    assert str(nid) in bytes(filed["value"]).decode()
    audit = await pool.fetch("SELECT principal, action FROM audit_log WHERE subject_id = $1 ORDER BY id", str(nid))
    assert ("acct-elsewhere", "objection.file_refused") in [(a["principal"], a["action"]) for a in audit]
    assert ("acct-desa", "objection.filed") in [(a["principal"], a["action"]) for a in audit]
    page = await client.get(url, headers=key("desa"))
    assert page.status_code == 200 and "diterima" in page.text and row["due_by"].strftime("%d-%m-%Y") in page.text
    assert "Ajukan sanggahan</button>" not in page.text  # one open objection: no form
    listing = await client.get("/portal/daftar", headers=key("desa"))
    assert listing.status_code == 200 and 'Sanggahan: <span class="status">diterima' in listing.text
    listed = await client.get(f"/v1/nominations/{nid}/objections", headers=key("desa"))
    assert listed.status_code == 200 and listed.json()[0]["state"] == "received"
    assert (await client.get(f"/v1/nominations/{nid}/objections", headers=key("elsewhere"))).status_code == 404
    latest = await objection_repo.latest(pool, nid)
    assert latest is not None and (latest.objection_id, latest.state) == (row["id"], "received")


async def test_not_objectable_cases_are_refused_and_store_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    undecided = await submit(client, nik())
    assert (await file_api(client, undecided)).json()["code"] == "NOT_DECIDED"
    assert (await file_api(client, uuid.uuid4())).status_code == 404
    nid = await rejected_nomination(client, pool)
    # a PNG declared a PDF, a wrong sha256, an oversized file: refused by content, nothing stored
    png_as_pdf = await file_api(client, nid, evidence=[evidence(PNG, "application/pdf")])
    assert (png_as_pdf.status_code, png_as_pdf.json()["code"]) == (415, "EVIDENCE_TYPE")
    bad_sha = {**evidence(PDF), "sha256": "0" * 64}
    assert (await file_api(client, nid, evidence=[bad_sha])).json()["code"] == "EVIDENCE_SHA256"
    big = PDF + b"\x00" * 300_001
    oversized = await file_api(client, nid, evidence=[evidence(big)])
    assert oversized.status_code == 422 and "JVBER" not in oversized.text  # the value is never echoed
    assert (await file_api(client, nid, reason_code="because")).status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM objections") == 0
    first = await file_api(client, nid, evidence=[evidence(PDF)])
    assert first.status_code == 202, first.text
    second = await file_api(client, nid)
    assert (second.status_code, second.json()["code"]) == (409, "OBJECTION_OPEN")
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'ObjectionFiled'") == 1
    # a person nominated again since the rejection may not object to the old nomination
    person = nik()
    old = await rejected_nomination(client, pool, person)
    await submit(client, person)
    newer = await file_api(client, old)
    assert (newer.status_code, newer.json()["code"]) == (409, "NEWER_NOMINATION")


async def test_reviews_replayed_forged_or_contradicting(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    person = nik()
    nid = await rejected_nomination(client, pool, person)
    filed = await file_api(client, nid, evidence=[evidence(PDF)])
    objection_id = uuid.UUID(filed.json()["objection_id"])
    progress_group = consumer(pool)
    in_review = event(reviewed(objection_id, nid, "in_review"))
    await progress_group.process([record(in_review)])
    await progress_group.process([record(in_review)])  # the same event again: the inbox drops it
    upheld = event(reviewed(objection_id, nid, "upheld"))
    await progress_group.process([record(upheld), record(event(reviewed(objection_id, nid, "upheld")))])
    row = await pool.fetchrow("SELECT state, note, decided_at FROM objections WHERE id = $1", objection_id)
    assert (row["state"], row["note"]) == ("upheld", "KK sudah diperbaiki") and row["decided_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM objection_evidence WHERE decided_at IS NOT NULL") == 1
    assert await dead_letters(pool) == []
    await progress_group.process(
        [
            record(event(reviewed(objection_id, nid, "dismissed"))),  # a second, different decision
            record(event(reviewed(uuid.uuid4(), nid, "upheld"))),  # an objection this service never filed
            record(event(reviewed(objection_id, uuid.uuid4(), "upheld"))),  # names another nomination
        ]
    )
    assert await dead_letters(pool) == ["inconsistent"] * 3
    assert await pool.fetchval("SELECT state FROM objections WHERE id = $1", objection_id) == "upheld"
    # a review forged by another service (signed with its key, not verification's): dead-lettered, nothing changes
    forged = event(reviewed(objection_id, nid, "dismissed"))
    topic, value = PREFIX + forged.payload.topic, encode(forged)
    headers = signed.headers(topic, value, producer="enrolment")
    k = forged.person_key.encode()
    await progress_group.process(
        [ConsumerRecord(topic, 0, next(_offsets), 0, 0, k, value, None, len(k), len(value), headers)]
    )
    assert len(await dead_letters(pool)) == 4 and (await dead_letters(pool))[-1] != "inconsistent"
    assert await pool.fetchval("SELECT state FROM objections WHERE id = $1", objection_id) == "upheld"
    # the re-run verifies: the nomination leaves "rejected" and is live again
    await progress_group.process([record(event(verified(nid, objection_id)))])
    assert await pool.fetchval("SELECT outcome FROM nominations WHERE id = $1", nid) is None
    again = await client.post("/v1/nominations", json=request(person, SENYIUR), headers=key("desa"))
    assert (again.status_code, again.json()["nomination_id"]) == (409, str(nid))


async def test_a_re_run_of_a_person_nominated_again_meanwhile_is_dead_lettered(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    person = nik()
    nid = await rejected_nomination(client, pool, person)
    objection_id = uuid.UUID((await file_api(client, nid)).json()["objection_id"])
    newer = await submit(client, person)  # re-nominated while the objection was open
    await consumer(pool).process([record(event(verified(nid, objection_id)))])
    assert await dead_letters(pool) == ["inconsistent"]
    assert await pool.fetchval("SELECT outcome FROM nominations WHERE id = $1", nid) == "rejected"
    assert await pool.fetchval("SELECT outcome FROM nominations WHERE id = $1", newer) is None


def lead(desa: str = SENYIUR, phone: str = "0812 1111 2222", channel: str = "sms") -> ReceiveLead:
    return ReceiveLead(desa_code=desa, full_name="Budi Santoso", phone=phone, occupation="nelayan", channel=channel)  # type: ignore[arg-type]


async def test_leads_dedup_scoping_and_marks(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    deps = nomination_deps(pool)
    first = await messaging.run(deps, leads.receive_lead, lead())
    again = await messaging.run(deps, leads.receive_lead, lead(phone="+6281211112222", channel="whatsapp"))
    assert again.lead_id == first.lead_id  # the same number in the same desa within 30 days
    other_desa = await messaging.run(deps, leads.receive_lead, lead(desa=JAK_LUAY))
    assert other_desa.lead_id != first.lead_id
    events = await pool.fetch("SELECT key FROM outbox WHERE event_type = 'LeadReceived'")
    assert len(events) == 2 and all(b"6281211112222" not in bytes(e["key"]) for e in events)
    with pytest.raises(InvalidLead):
        await messaging.run(deps, leads.receive_lead, lead(desa="64.09.01.2001"))
    assert await pool.fetchval("SELECT count(*) FROM leads") == 2
    # a desa account sees its desa's lead only; another desa's account none of it; admin both
    own = await client.get("/v1/leads", headers=key("desa"))
    assert [r["lead_id"] for r in own.json()] == [str(first.lead_id)]
    assert [r["lead_id"] for r in (await client.get("/v1/leads", headers=key("elsewhere"))).json()] == [
        str(other_desa.lead_id)
    ]
    assert len((await client.get("/v1/leads", headers=key("admin"))).json()) == 2
    filtered = await client.get("/v1/leads", params={"desa_code": JAK_LUAY}, headers=key("kecamatan"))
    assert filtered.status_code == 403
    assert (await client.get("/v1/leads", headers=key("verifier"))).status_code == 403
    # marks: outside the area as absent; inside recorded
    mark = f"/v1/leads/{first.lead_id}/mark"
    assert (await client.post(mark, json={"state": "contacted"}, headers=key("elsewhere"))).status_code == 404
    assert (await client.post(mark, json={"state": "contacted"}, headers=key("desa"))).status_code == 204
    assert (await client.post(mark, json={"state": "deleted"}, headers=key("desa"))).status_code == 422
    assert await pool.fetchval("SELECT state FROM leads WHERE id = $1", first.lead_id) == "contacted"
    # a nomination with the lead's number in its desa shows it nominated
    nomination = {**request(nik(), SENYIUR), "phone": "081211112222"}
    assert (await client.post("/v1/nominations", json=nomination, headers=key("desa"))).status_code == 202
    assert (await client.get("/v1/leads", headers=key("desa"))).json()[0]["nominated"] is True
    page = await client.get("/portal/calon", headers=key("desa"))
    assert page.status_code == 200 and "Budi Santoso" in page.text and "diusulkan" in page.text
    listed = await pool.fetch("SELECT principal FROM audit_log WHERE action = 'lead.listed'")
    assert {r["principal"] for r in listed} >= {"acct-desa", "acct-elsewhere", "acct-admin"}


async def test_retention_deletes_old_leads_and_decided_evidence_only(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    deps = nomination_deps(pool)
    old_lead = await messaging.run(deps, leads.receive_lead, lead(phone="081233334444"))
    young_lead = await messaging.run(deps, leads.receive_lead, lead(phone="081255556666"))
    decided = await rejected_nomination(client, pool)
    still_open = await rejected_nomination(client, pool)
    decided_objection = uuid.UUID((await file_api(client, decided, evidence=[evidence(PDF)])).json()["objection_id"])
    assert (await file_api(client, still_open, evidence=[evidence(PDF)])).status_code == 202
    now = datetime.now(UTC)
    await pool.execute("UPDATE leads SET updated_at = $2 WHERE id = $1", old_lead.lead_id, now - timedelta(days=181))
    await pool.execute(
        "UPDATE objection_evidence SET decided_at = $2 WHERE objection_id = $1",
        decided_objection,
        now - timedelta(days=366),
    )
    async with pool.acquire() as conn:
        result = await retention.run(conn, "nomination", deps.settings)
    assert (result.deleted["leads"], result.deleted["objection_evidence"]) == (1, 1)
    assert [r["id"] for r in await pool.fetch("SELECT id FROM leads")] == [young_lead.lead_id]
    assert await pool.fetchval("SELECT count(*) FROM objection_evidence") == 1  # the open objection's file stays
    assert await pool.fetchval("SELECT count(*) FROM objections") == 2  # the decisions themselves are kept


def ended(nid: uuid.UUID) -> EnrolmentEnded:
    return EnrolmentEnded(
        nomination_id=nid, membership_number="26000000001", funding_source="APBD-KAB", programme_year=2026,
        reason="deceased", coverage_end=date(2026, 12, 31), full_name="Siti", phone="+6281234567890",
        desa_code=SENYIUR, nominator=NOMINATOR,
    )  # fmt: skip


def confirmed(nid: uuid.UUID, restored_by: uuid.UUID | None = None) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=nid, membership_number="26000000001", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone="+6281234567890", desa_code=SENYIUR, nominator=NOMINATOR,
        restored_by_objection=restored_by,
    )  # fmt: skip


async def test_a_beneficiary_objects_by_sms_to_an_ended_cover_and_is_covered_again(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    nid = await submit(client, nik())
    group = consumer(pool)
    await group.process([record(event(verified(nid))), record(event(confirmed(nid)))])
    await group.process([record(event(ended(nid)))])
    command = FileObjection(
        nomination_id=nid, filed_by="beneficiary", channel="sms", reason_code="not_deceased", reason_text="",
        evidence=(), caller=None,
    )  # fmt: skip
    receipt = await messaging.run(nomination_deps(pool), objections.file_objection, command)
    assert receipt.state == "received" and receipt.due_by >= date.today() + timedelta(days=13)
    assert await pool.fetchval("SELECT ground FROM objections WHERE id = $1", receipt.objection_id) == "ended"
    audit = await pool.fetchval("SELECT principal FROM audit_log WHERE action = 'objection.filed'")
    assert audit == "system:nomination"
    with pytest.raises(NotObjectable):  # one open objection
        await messaging.run(nomination_deps(pool), objections.file_objection, command)
    await group.process([record(event(confirmed(nid)))])  # a redelivered-looking confirmation: still ended
    assert await pool.fetchval("SELECT outcome FROM nominations WHERE id = $1", nid) == "ended"
    await group.process([record(event(confirmed(nid, restored_by=receipt.objection_id)))])
    assert await pool.fetchval("SELECT outcome FROM nominations WHERE id = $1", nid) == "enrolled"
    assert await dead_letters(pool) == []


async def test_the_portal_refuses_an_oversized_file_and_marks_leads(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    nid = await rejected_nomination(client, pool)
    url = f"/portal/usulan/{nid}/sanggahan"
    big = [("bukti", ("surat.pdf", PDF + b"\x00" * 300_001, "application/pdf"))]
    refused = await client.post(url, data={"alasan": "other"}, files=big, headers=key("desa"))
    assert refused.status_code == 413 and "300 KB" in refused.text
    no_reason = await client.post(url, files=[("alasan", (None, "<script>"))], headers=key("desa"))
    assert no_reason.status_code == 422 and "<script>" not in no_reason.text
    assert await pool.fetchval("SELECT count(*) FROM objections") == 0
    found = await messaging.run(nomination_deps(pool), leads.receive_lead, lead(phone="081277778888"))
    marked = await client.post(f"/portal/calon/{found.lead_id}", data={"tanda": "nominated"}, headers=key("desa"))
    assert marked.status_code == 303
    assert await pool.fetchval("SELECT state FROM leads WHERE id = $1", found.lead_id) == "nominated"
    other = await client.post(f"/portal/calon/{found.lead_id}", data={"tanda": "contacted"}, headers=key("elsewhere"))
    assert other.status_code == 404
