"""The public self-check page in Debian's Chromium at phone size, no script and no sign-in: a person checks their
status, a wrong birth date gets the neutral answer, a rejected person sees the objection form and the lead page
lists the desa (the pages carry no script); axe-core on every page, screenshots in test-artifacts/."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.nomination.app import SPEC
from shared import db
from tests.browser.conftest import ARTIFACTS, BROWSER_ARGS, PHONE, check_axe
from tests.integration.test_selfcheck import SECRET, confirmed, fold, nominate, rejected, verified
from tests.portal_support import nomination_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("selfcheck_ui")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


async def test_cek_at_phone_size(chromium: Any, axe_source: str, serve: Any, pool: asyncpg.Pool) -> None:
    from playwright.async_api import async_playwright

    assert SECRET  # the pages' app uses the same person-key secret as the helpers
    covered, refused = "6408014501900201", "6408014501900202"
    nid = await nominate(pool, covered)
    await fold(pool, covered, verified(nid, covered), confirmed(nid))
    other = await nominate(pool, refused)
    await fold(pool, refused, rejected(other))
    base = await serve(nomination_app(pool))
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
        try:
            context = await browser.new_context(viewport=PHONE, locale="id-ID")
            page = await context.new_page()
            await page.goto(f"{base}/cek")
            assert await page.get_attribute("html", "lang") == "id"
            await check_page(page, axe_source, "cek")
            await page.fill("#nik", covered)
            await page.fill("#tanggal_lahir", "1990-01-05")
            await page.click("form button[type=submit]")
            assert "26000000042" in await page.inner_text("main")
            await page.screenshot(path=str(ARTIFACTS / "cek-hasil-phone.png"), full_page=True)
            await check_page(page, axe_source, "cek-hasil")

            await page.goto(f"{base}/cek")
            await page.fill("#nik", covered)
            await page.fill("#tanggal_lahir", "1990-01-06")
            await page.click("form button[type=submit]")
            assert "Data tidak dapat ditampilkan" in await page.inner_text("main")

            await page.goto(f"{base}/cek")
            await page.fill("#nik", refused)
            await page.fill("#tanggal_lahir", "1990-01-05")
            await page.click("form button[type=submit]")
            assert await page.locator("form[action='/cek/sanggah']").count() == 1
            await page.screenshot(path=str(ARTIFACTS / "cek-sanggah-phone.png"), full_page=True)
            await check_page(page, axe_source, "cek-sanggah")

            await page.goto(f"{base}/daftar")
            assert await page.locator("#desa optgroup").count() > 5
            await check_page(page, axe_source, "daftar")
            # the page fits a phone: nothing wider than the viewport
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"]
        finally:
            await browser.close()


async def check_page(page: Any, axe_source: str, name: str) -> None:
    """The page works without script (it has none) and has no serious accessibility violation."""
    assert await page.evaluate("document.scripts.length") == 0, name
    await check_axe(page, axe_source, name)
