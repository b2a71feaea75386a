"""A desa's printed batch of membership cards on real PostgreSQL: folded from EnrolmentConfirmed, scoped by area
(own desa 200, another desa 403, no member 404), every batch and every refusal audited without names."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
import zxingcpp
from pypdf import PdfReader

from services.nomination.app import SPEC
from services.nomination.handlers import progress
from shared import db, topology
from shared.cards.links import read_card_token
from shared.contracts import EnrolmentConfirmed, Nominator, new_envelope
from shared.keys import person_key
from tests.portal_support import JAK_LUAY, KEYS, SENYIUR, nomination_app, nomination_deps, request

pytestmark = pytest.mark.integration
SECRET = "integration-secret-0123456789"
SELF_CHECK = "https://cek.example.go.id"


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("nomination_cards")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def client(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = nomination_app(pool, self_check_url=SELF_CHECK)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nomination") as c:
        yield c


def key(account: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[account]}


async def enrol(client: httpx.AsyncClient, pool: asyncpg.Pool, nik: str, desa: str, name: str, kpj: str) -> uuid.UUID:
    r = await client.post("/v1/nominations", json=request(nik, desa, name=name), headers=key("admin"))
    assert r.status_code == 202, r.text
    nomination_id = uuid.UUID(r.json()["nomination_id"])
    payload = EnrolmentConfirmed(
        nomination_id=nomination_id, membership_number=kpj, funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Kartanegara", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name=name, phone="+6281234567890", desa_code=desa,
        nominator=Nominator(type="desa", name="Kepala Desa", region_code=desa),
    )  # fmt: skip
    env = new_envelope(
        payload,
        producer=topology.owner(payload.topic),
        person_key=person_key(nik, SECRET),
        correlation_id=nomination_id,
    )
    async with pool.acquire() as conn, conn.transaction():
        await progress.record_progress(nomination_deps(pool), conn, [env])
    return nomination_id


async def test_a_desa_batch_for_its_own_official_and_the_regency_refused_elsewhere_audited(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    members = {
        await enrol(client, pool, "6408014501900011", SENYIUR, "Yusuf Ma'ruf", "26000000011"): "Yusuf Ma'ruf",
        await enrol(client, pool, "6408014501900012", SENYIUR, "Ahmad Zoë", "26000000012"): "Ahmad Zoë",
    }
    # submitted but not covered: no card
    r = await client.post(
        "/v1/nominations", json=request("6408014501900013", SENYIUR, "Belum Terdaftar"), headers=key("admin")
    )
    assert r.status_code == 202
    for account in ("desa", "kecamatan", "admin"):
        r = await client.get(f"/v1/cards/desa/{SENYIUR}", headers=key(account))
        assert r.status_code == 200, (account, r.text)
        assert r.headers["content-type"] == "application/pdf" and r.headers["cache-control"] == "no-store"
    reader = PdfReader(io.BytesIO(r.content))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Ahmad Zoë" in text and "Yusuf Ma'ruf" in text and "26000000012" in text
    assert "APBD Kab. Kutai Kartanegara" in text and "1 Desember 2026" in text and "Senyiur" in text
    assert "Belum Terdaftar" not in text
    assert text.index("1 Ahmad Zoë") < text.index("2 Yusuf Ma'ruf")  # the receipt list, by name
    urls = {b.text for img in reader.pages[0].images for b in zxingcpp.read_barcodes(img.image)}
    assert all(u.startswith(SELF_CHECK + "/cek/kartu/") for u in urls)
    assert {read_card_token(u.rsplit("/", 1)[1], printers=("nomination",)) for u in urls} == set(members)

    other = await client.get(f"/v1/cards/desa/{SENYIUR}", headers=key("elsewhere"))
    assert other.status_code == 403 and other.json()["code"] == "OUT_OF_AREA"
    for account in ("verifier", "auditor"):
        assert (await client.get(f"/v1/cards/desa/{SENYIUR}", headers=key(account))).status_code == 403
    assert (await client.get(f"/v1/cards/desa/{SENYIUR}")).status_code == 401

    rows = await pool.fetch("SELECT principal, action, subject_id, detail FROM audit_log WHERE action LIKE 'cards.%'")
    printed = [(r["principal"], r["subject_id"], r["detail"]) for r in rows if r["action"] == "cards.batch_printed"]
    assert printed == [(f"acct-{a}", SENYIUR, {"count": 2}) for a in ("desa", "kecamatan", "admin")]
    denied = [r for r in rows if r["action"] == "cards.batch_denied"]
    assert [(r["principal"], r["detail"]["desa_code"]) for r in denied] == [("acct-elsewhere", SENYIUR)]
    trail = " ".join(str(dict(r)) for r in rows)
    assert "Yusuf" not in trail and "Ahmad" not in trail and "2600000001" not in trail


async def test_no_member_is_a_404_and_hostile_codes_are_refused_without_echo(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    r = await client.get(f"/v1/cards/desa/{JAK_LUAY}", headers=key("admin"))
    assert r.status_code == 404 and r.json()["code"] == "NO_MEMBERS"
    assert "no covered member" in r.json()["detail"]
    for bad in ("64.08.01.2001'--", "x" * 300, "64.08.01", "..%2F..%2Fetc"):
        r = await client.get(f"/v1/cards/desa/{bad}", headers=key("admin"))
        assert r.status_code in (404, 422), bad
        assert "--" not in r.text and "xxxx" not in r.text
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'cards.batch_printed'") == 0


async def test_the_portal_page_lists_covered_members_per_desa_and_downloads_the_batch(
    client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await enrol(client, pool, "6408014501900021", SENYIUR, "Siti Aminah", "26000000021")
    page = await client.get("/portal/kartu", headers=key("kecamatan"))
    assert page.status_code == 200, page.text
    assert 'lang="id"' in page.text and "Kartu peserta" in page.text
    assert f'href="/portal/kartu/{SENYIUR}.pdf"' in page.text and "Siti Aminah" not in page.text
    elsewhere = await client.get("/portal/kartu", headers=key("elsewhere"))
    assert SENYIUR not in elsewhere.text and "Belum ada peserta" in elsewhere.text
    pdf = await client.get(f"/portal/kartu/{SENYIUR}.pdf", headers=key("desa"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert (await client.get(f"/portal/kartu/{SENYIUR}.pdf", headers=key("elsewhere"))).status_code == 403
    assert (await client.get("/portal/kartu", headers=key("auditor"))).status_code == 403


BUMI_RAPAK = "64.08.15.2002"


async def test_a_desa_of_hundreds_of_members_prints_in_one_batch(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    """300 covered members, one PDF (38 sheets front and back, 12 pages of receipts). Desa Bumi Rapak's size (2,000)
    is measured by ``python -m bench.cards --members 2000`` (docs/outreach.md), not here: it is CPU, not a case."""
    progress = {
        "outcome": "enrolled", "verified": True, "coverage_start": "2026-12-01",
        "funding_source": "APBD-KAB", "funding_source_name": "APBD Kab. Kutai Kartanegara",
    }  # fmt: skip
    rows = [
        (uuid.uuid4(), f"pk-{i}", f"640815450190{i:04d}", f"Warga {i:04d}", BUMI_RAPAK,
         {**progress, "membership_number": f"26{i:09d}"})
        for i in range(300)
    ]  # fmt: skip
    await pool.executemany(
        """
        INSERT INTO nominations (id, person_key, nik, full_name, birth_date, sex, phone, address, desa_code,
                                 occupation, nominator, status, outcome, progress)
        VALUES ($1, $2, $3, $4, '1990-01-05', 'F', '+6281234567890', '{}', $5, 'nelayan', '{}', 'enrolled',
                'enrolled', $6)
        """,
        rows,
    )
    r = await client.get(f"/v1/cards/desa/{BUMI_RAPAK}", headers=key("admin"))
    assert r.status_code == 200, r.text
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) == 2 * 38 + 12
    last = " ".join(reader.pages[-1].extract_text().split())
    assert "300 Warga 0299 26000000299" in last
    detail = await pool.fetchval("SELECT detail FROM audit_log WHERE action = 'cards.batch_printed'")
    assert detail == {"count": 300}
