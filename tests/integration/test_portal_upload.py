"""The portal's spreadsheet upload on real PostgreSQL: upload -> job -> rows sent through the API's own path ->
XLSX report; hostile files; the area of a job; a job resumed after a restart; retention.

The service is its real app (edge, pages, API) with the runtime set by hand (no Kafka: the routes and the worker
use the pool only); the background ``uploads`` job is driven round by round (``uploads.send_pending``), as it runs.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook, load_workbook

from services.nomination.app import SPEC
from services.nomination.commands import PurgeUploads
from services.nomination.handlers import uploads
from shared import db
from shared.sheets import rows as sheets
from tests.portal_support import JAK_LUAY, KEYS, SENYIUR, nomination_app

pytestmark = pytest.mark.integration
HEADER = list(sheets.COLUMNS)
FORM = {
    "nama_pengusul": "Kepala Desa Senyiur",
    "nomor_surat": "140/12/DS/2026",
    "tanggal_surat": "2026-01-10",
    "penandatangan_surat": "Kepala Desa Senyiur",
}


def row(nik: str, desa: str = SENYIUR, name: str = "Siti Aminah", street: str = "") -> list[str]:
    return [nik, name, "1990-01-05", "P", "081234567890", desa, "3", "1", street, "nelayan"]


def xlsx(*rows: list[Any]) -> bytes:
    book = Workbook()
    book.active.append(HEADER)
    for r in rows:
        book.active.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("portal_upload")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
def app(pool: asyncpg.Pool) -> FastAPI:
    return nomination_app(pool, upload_max_rows=5, upload_max_bytes=64 * 1024)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nomination") as c:
        yield c


def key(account: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[account]}


async def upload(client: httpx.AsyncClient, content: bytes, account: str = "desa", **form: str) -> httpx.Response:
    files = {"berkas": ("desa.xlsx", content, "application/octet-stream")}
    return await client.post("/portal/unggah", files=files, data={**FORM, **form}, headers=key(account))


async def run_worker(app: FastAPI) -> None:
    """Rounds of the background loop until no row is pending (each round leases and sends rows)."""
    while await uploads.send_pending(app.state.runtime.deps):
        pass


def job_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


async def test_upload_sends_rows_through_the_api_and_reports_each(
    app: FastAPI, client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    content = xlsx(
        row(sheets.EXAMPLE_NIK),  # the template's example: never sent
        row("6408014501900001", street='=HYPERLINK("http://x","klik")'),  # accepted; a formula-like street
        row("6408024501900002", JAK_LUAY),  # outside the desa account's area: a row error, not a 500
        row("12345"),  # caught by the local checks
        row("6408014501900003", name="@SUM(1+1)"),  # refused by the API's name rule; the cell must stay text
    )
    job = job_of(await upload(client, content))
    page = await client.get(f"/portal/unggah/{job}", headers=key("desa"))
    assert page.status_code == 200 and 'http-equiv="refresh"' in page.text  # not finished: it refreshes itself
    await run_worker(app)
    page = await client.get(f"/portal/unggah/{job}", headers=key("desa"))
    assert 'data-done="5" data-total="5" data-finished="1"' in page.text and 'http-equiv="refresh"' not in page.text
    assert 'id="diterima">1<' in page.text and 'id="ditolak">3<' in page.text
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 1
    report = await client.get(f"/portal/unggah/{job}/laporan.xlsx", headers=key("desa"))
    assert report.status_code == 200 and report.headers["content-type"].startswith("application/vnd.openxml")
    sheet = load_workbook(io.BytesIO(report.content)).active
    cells = [c for r in sheet.iter_rows() for c in r]
    assert all(c.data_type != "f" for c in cells)
    assert not [c.value for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    lines = {r[HEADER.index("nik")]: dict(zip([c.value for c in sheet[1]], r, strict=True)) for r in
             sheet.iter_rows(min_row=2, values_only=True)}  # fmt: skip
    assert lines[sheets.EXAMPLE_NIK]["status"] == "contoh (tidak diimpor)"
    assert lines["6408014501900001"]["status"] == "diimpor" and lines["6408014501900001"]["id_nominasi"]
    assert lines["6408024501900002"]["kolom"] == "kode_desa"
    assert lines["6408024501900002"]["alasan"].startswith("Desa ini di luar wilayah akun Anda")
    assert lines["12345"]["kolom"] == "nik" and lines["6408014501900003"]["kolom"] == "nama_lengkap"

    # the same file again: a new job whose rows replay; nothing is created twice
    again = job_of(await upload(client, content))
    assert again != job
    await run_worker(app)
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 1
    second = load_workbook(
        io.BytesIO((await client.get(f"/portal/unggah/{again}/laporan.xlsx", headers=key("desa"))).content)
    )
    statuses = [r[len(HEADER)] for r in second.active.iter_rows(min_row=2, values_only=True)]
    assert "sudah diimpor sebelumnya" in statuses and "diimpor" not in statuses

    # another area: as if absent, and audited
    for path in (f"/portal/unggah/{job}", f"/portal/unggah/{job}/laporan.xlsx"):
        assert (await client.get(path, headers=key("elsewhere"))).status_code == 404
    assert (await client.get(f"/portal/unggah/{job}", headers=key("kecamatan"))).status_code == 200  # above it
    trail = await pool.fetch("SELECT principal, action, detail::text AS d FROM audit_log WHERE subject_id = $1", job)
    actions = [(r["principal"], r["action"]) for r in trail]
    assert ("acct-desa", "upload.created") in actions and ("acct-desa", "upload.report_read") in actions
    assert ("acct-elsewhere", "upload.read_denied") in actions
    assert all("6408014501900001" not in r["d"] for r in trail)  # no NIK in the audit trail
    submitted = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE principal = 'acct-desa' AND action = 'nomination.submitted'"
    )
    assert submitted == 1  # the row went through the API's handler as the uploader
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'nomination.submit_denied'") == 2


async def test_hostile_files_are_refused_with_reasons(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    template = await client.get("/portal/unggah/templat.xlsx", headers=key("desa"))
    assert template.status_code == 200  # the template, its desa list the account's area only
    lists = load_workbook(io.BytesIO(template.content))["daftar"]
    assert [v for (v,) in lists.iter_rows(min_row=2, min_col=2, max_col=2, values_only=True) if v] == [
        "64.08.01.2001 Senyiur"
    ]
    png = await upload(client, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert png.status_code == 415 and png.headers["x-payung-code"] == "SHEET_TYPE"
    fake = await upload(client, b"PK\x03\x04<script>alert(1)</script>")
    assert fake.status_code == 415 and "<script>alert" not in fake.text
    big = await upload(client, b"nik\n" + b"1" * (80 * 1024))
    assert big.status_code == 413
    many = await upload(client, xlsx(*[row(f"64080145019{i:05d}") for i in range(6)]))
    assert many.status_code == 422 and many.headers["x-payung-code"] == "TOO_MANY_ROWS"
    no_letter = await upload(client, xlsx(row("6408014501900001")), nomor_surat="")
    assert no_letter.status_code == 422 and "surat" in no_letter.text
    empty = await upload(client, xlsx())
    assert empty.status_code == 422
    raw = await client.post("/portal/unggah", content=b"\x00\x01\x02", headers=key("desa"))
    assert raw.status_code == 415
    assert (await client.post("/portal/unggah", content=b"nik\n1\n")).status_code == 401
    assert (await client.post("/portal/unggah", content=b"nik\n1\n", headers=key("verifier"))).status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM upload_jobs") == 0
    # every refusal the route made is audited with its code (the oversized one the edge refused before the route)
    codes = await pool.fetch("SELECT detail->>'code' AS c FROM audit_log WHERE action = 'upload.refused' ORDER BY id")
    assert [r["c"] for r in codes] == [
        "SHEET_TYPE", "SHEET_TYPE", "TOO_MANY_ROWS", "BATCH_INVALID", "SHEET_EMPTY", "SHEET_TYPE"
    ]  # fmt: skip


async def test_a_job_survives_a_restart_and_is_purged_after_retention(
    app: FastAPI, client: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    job = job_of(await upload(client, xlsx(row("6408014501900001"), row("6408014502910002", name="Nur Aini"))))
    # a process leased the first row and died before finishing it; the lease has run out
    await pool.execute(
        "UPDATE upload_rows SET lease_until = now() - interval '1 second', attempts = 1 WHERE job_id = $1 AND "
        "row_number = 2",
        uuid.UUID(job),
    )
    await run_worker(app)  # a new process's worker
    assert await pool.fetchval("SELECT count(*) FROM upload_rows WHERE state = 'pending'") == 0
    assert await pool.fetchval("SELECT accepted FROM upload_jobs WHERE id = $1", uuid.UUID(job)) == 2
    deps = app.state.runtime.deps
    async with pool.acquire() as conn:
        assert (await uploads.purge(deps, conn, PurgeUploads(retention_days=30))).answer == 0  # just finished: kept
        await conn.execute("UPDATE upload_jobs SET finished_at = now() - interval '31 days'")
        assert (await uploads.purge(deps, conn, PurgeUploads(retention_days=30))).answer == 1
    assert await pool.fetchval("SELECT content FROM upload_jobs WHERE id = $1", uuid.UUID(job)) is None
    assert await pool.fetchval("SELECT count(*) FROM upload_rows") == 0
    gone = await client.get(f"/portal/unggah/{job}/laporan.xlsx", headers=key("desa"))
    assert gone.status_code == 410
    page = await client.get(f"/portal/unggah/{job}", headers=key("desa"))
    assert page.status_code == 200 and "sudah dihapus" in page.text
