"""The portal's spreadsheet upload in Debian's Chromium: a small XLSX with one good and one bad row uploaded from a
phone, the progress page refreshing itself to the end, the per-row report downloaded and read with openpyxl;
axe-core on both pages; screenshots at 360x640 in test-artifacts/.

The nomination service is its real app on real PostgreSQL, served by uvicorn in this test's loop with the runtime
set by hand (lifespan off), so the test runs the service's background worker (the ``uploads`` job) itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from openpyxl import Workbook, load_workbook

from services.nomination import bootstrap
from services.nomination.app import SPEC
from shared import db
from shared.sheets import rows as sheets
from tests.browser.conftest import ARTIFACTS, BROWSER_ARGS, PHONE, check_axe
from tests.portal_support import JAK_LUAY, KEYS, SENYIUR, nomination_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("portal_upload_ui")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


def sheet() -> bytes:
    book = Workbook()
    book.active.append(list(sheets.COLUMNS))
    book.active.append(
        ["6408014501900001", "Siti Aminah", "1990-01-05", "P", "081234567890", SENYIUR, "3", "1", "", "nelayan"]
    )
    book.active.append(
        ["6408024501900002", "Nur Aini", "1991-02-05", "P", "081234567891", JAK_LUAY, "4", "2", "", "nelayan"]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_upload_a_village_sheet_and_download_the_report(
    chromium: Any, axe_source: str, serve: Any, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    app = nomination_app(pool)
    base = await serve(app)
    [job] = bootstrap.jobs(app.state.runtime.deps, interval_s=0.5)
    worker = asyncio.create_task(job.run())
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
            try:
                context = await browser.new_context(
                    viewport=PHONE,
                    locale="id-ID",
                    accept_downloads=True,
                    extra_http_headers={"X-API-Key": KEYS["desa"]},
                )
                page = await context.new_page()
                await page.goto(f"{base}/portal/daftar")
                await page.get_by_role("link", name="Unggah berkas XLSX/CSV desa").click()
                await expect(page.locator("h1")).to_have_text("Unggah berkas usulan desa")
                await check_axe(page, axe_source, "unggah")
                await page.screenshot(path=str(ARTIFACTS / "portal-unggah-phone.png"), full_page=True)
                await page.set_input_files(
                    "#berkas", {"name": "senyiur.xlsx", "mimeType": "application/octet-stream", "buffer": sheet()}
                )
                await page.fill("#nama_pengusul", "Kepala Desa Senyiur")
                await page.fill("#nomor_surat", "140/12/DS/2026")
                await page.fill("#tanggal_surat", "2026-01-10")
                await page.fill("#penandatangan_surat", "Kepala Desa Senyiur")
                await page.get_by_role("button", name="Unggah dan proses").click()
                await expect(page.locator("h1")).to_have_text("Proses unggahan")
                # the page refreshes itself (meta refresh) until every row is done
                await expect(page.locator("#kemajuan[data-finished='1']")).to_have_count(1, timeout=30_000)
                assert await page.locator("#diterima").inner_text() == "1"
                assert await page.locator("#ditolak").inner_text() == "1"
                await check_axe(page, axe_source, "unggah-status")
                await page.screenshot(path=str(ARTIFACTS / "portal-unggah-status-phone.png"), full_page=True)
                async with page.expect_download() as info:
                    await page.click("#laporan")
                download = await info.value
                path = tmp_path / "laporan.xlsx"
                await download.save_as(str(path))
                report = load_workbook(path).active
                header = [c.value for c in report[1]]
                rows = [dict(zip(header, r, strict=True)) for r in report.iter_rows(min_row=2, values_only=True)]
                good, bad = rows
                assert good["status"] == "diimpor" and good["id_nominasi"]
                assert bad["status"] == "gagal: perbaiki lalu impor ulang" and bad["kolom"] == "kode_desa"
                assert bad["alasan"].startswith("Desa ini di luar wilayah akun Anda")
                await context.close()
            finally:
                await browser.close()
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 1
