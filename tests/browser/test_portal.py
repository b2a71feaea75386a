"""The nominator's portal in Debian's Chromium: a nomination with its letter, two more filled in without signal
and sent exactly once when it comes back, another desa's official seeing none of it; axe-core on every page;
screenshots at phone and desktop sizes in test-artifacts/.

The nomination service is its real app (edge, pages, API, letters) on real PostgreSQL, served by uvicorn in this
test's loop with the runtime set by hand (no Kafka needed: the routes use the pool only).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.nomination.app import SPEC
from shared import db
from shared.reasons import fix_text
from tests.browser.conftest import ARTIFACTS, BROWSER_ARGS, DESKTOP, PHONE, check_axe
from tests.portal_support import JPEG, KEYS, nomination_app

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("portal_ui")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


async def nominations_seen(base: str) -> int:
    """How many nominations the API reports (the admin's summary), i.e. what arrived at the server."""
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.get("/v1/nominations/summary", headers={"X-API-Key": KEYS["admin"]})
        r.raise_for_status()
        return sum(r.json()["by_status"].values())


async def open_portal(browser: Any, base: str, account: str) -> tuple[Any, Any]:
    """A phone's browser signed in as ``account``. Without an identity provider the pages take the account's API
    key (websession.page_guard), sent by the browser on every request, the service worker's included."""
    context = await browser.new_context(viewport=PHONE, locale="id-ID", extra_http_headers={"X-API-Key": KEYS[account]})
    page = await context.new_page()
    await page.goto(f"{base}/portal/usul")
    await page.wait_for_selector("form#usul[data-ready='1']")
    return context, page


async def fill(page: Any, nik: str, name: str, birth: str) -> None:
    await page.fill("#nik", nik)
    await page.fill("#full_name", name)
    await page.fill("#birth_date", birth)
    await page.check("input[name=sex][value=F]")
    await page.fill("#phone", "0812 3456 7890")
    await page.select_option("#occupation", "nelayan")
    await page.fill("#rt", "003")
    await page.fill("#rw", "002")
    await page.fill("#nominator_name", "Kepala Desa Senyiur")
    await page.fill("#letter_number", "140/12/DS/2026")
    await page.fill("#letter_date", "2026-01-10")
    await page.fill("#letter_issuer", "Kepala Desa Senyiur")
    await page.set_input_files("#letter_file", {"name": "surat.jpg", "mimeType": "image/jpeg", "buffer": JPEG})


async def states(page: Any) -> list[str]:
    return await page.locator("#antrian li").evaluate_all("els => els.map(e => e.dataset.state)")


async def test_nominate_offline_and_back(chromium: Any, axe_source: str, serve: Any, pool: asyncpg.Pool) -> None:
    from playwright.async_api import async_playwright, expect

    base = await serve(nomination_app(pool))
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
        try:
            anonymous = await browser.new_page()
            refused = await anonymous.goto(f"{base}/portal/usul")
            assert refused is not None and refused.status == 401  # sign-in is off here: no key, no page
            await anonymous.close()
            context, page = await open_portal(browser, base, "desa")
            await check_axe(page, axe_source, "usul")
            await page.evaluate("navigator.serviceWorker.ready.then(() => true)")

            # a client-side refusal first: the server's rules, before anything is sent
            await page.fill("#nik", "6408014513900001")  # month 13: no such date in the NIK
            await page.click("form#usul button[type=submit]")
            assert "tidak mungkin" in await page.locator("#nik-err").inner_text()
            assert await nominations_seen(base) == 0

            await fill(page, "6408014501900001", "Siti Rahmawati", "1990-01-05")
            await page.click("form#usul button[type=submit]")
            await page.wait_for_selector("#antrian li[data-state=terkirim]")
            assert await nominations_seen(base) == 1
            await page.screenshot(path=str(ARTIFACTS / "portal-usul-phone.png"), full_page=True)

            await context.set_offline(True)
            await page.reload()  # the service worker serves the page and its rules without a network
            await page.wait_for_selector("form#usul[data-ready='1']")
            assert "Tidak ada sinyal" in await page.locator("#sinyal").inner_text()
            await fill(page, "6408014502910002", "Nur Aini", "1991-02-05")
            await page.click("form#usul button[type=submit]")
            waiting = page.locator("#antrian li[data-state=menunggu]")
            await expect(waiting).to_have_count(1)  # kept on the phone, the form cleared for the next one
            await fill(page, "6408014503920003", "Rahmah", "1992-03-05")
            await page.click("form#usul button[type=submit]")
            await expect(waiting).to_have_count(2)
            assert "menunggu sinyal" in await page.locator("#antrian").inner_text()
            await page.screenshot(path=str(ARTIFACTS / "portal-offline-phone.png"), full_page=True)
            assert await nominations_seen(base) == 1  # nothing left the phone

            await context.set_offline(False)
            await expect(page.locator("#antrian li[data-state=terkirim]")).to_have_count(3, timeout=30_000)
            assert await nominations_seen(base) == 3  # exactly two more
            await page.reload()  # a second flush finds nothing to send
            await page.wait_for_selector("form#usul[data-ready='1']")
            assert sorted(await states(page)) == ["terkirim"] * 3
            kept = await page.evaluate("PayungQueue.all().then(items => JSON.stringify(items))")
            assert "6408014502910002" not in kept and '"letter":null' in kept  # sent: no NIK or letter kept
            assert await nominations_seen(base) == 3
            assert await pool.fetchval("SELECT count(*) FROM nomination_letters") == 3

            await page.goto(f"{base}/portal/daftar")
            assert await page.locator(".list > li").count() == 3
            await check_axe(page, axe_source, "daftar")
            await page.screenshot(path=str(ARTIFACTS / "portal-daftar-phone.png"), full_page=True)

            # a rejection: the reason in plain Bahasa, and the correction in one step from it
            rejected = await pool.fetchval("SELECT id FROM nominations WHERE full_name = 'Siti Rahmawati'")
            reasons = [{"code": "NAME_MISMATCH", "detail": "x"}]
            await pool.execute(
                "UPDATE nominations SET outcome = 'rejected', status = 'rejected', "
                "progress = jsonb_set(progress, '{reasons}', $2::jsonb) WHERE id = $1",
                rejected,
                reasons,
            )
            await page.reload()
            card = page.locator(".list > li.rejected")
            await expect(card).to_contain_text(fix_text("NAME_MISMATCH"))
            await card.get_by_role("link", name="Perbaiki dan kirim ulang").click()
            await expect(page.locator("#sinyal")).to_contain_text("ditolak sudah diisikan")
            assert await page.input_value("#nik") == "6408014501900001"
            assert await page.input_value("#desa_code") == "64.08.01.2001"
            await page.fill("#full_name", "Siti Rahmawati Binti Ahmad")  # the correction
            await page.click("form#usul button[type=submit]")
            await expect(page.locator("#antrian li[data-state=terkirim]")).to_have_count(4)
            assert await nominations_seen(base) == 4
            assert await pool.fetchval("SELECT count(*) FROM nomination_letters") == 4  # the letter kept
            await page.goto(f"{base}/portal/daftar")
            await page.set_viewport_size(DESKTOP)
            await page.screenshot(path=str(ARTIFACTS / "portal-daftar-desktop.png"), full_page=True)
            await page.goto(f"{base}/portal/usul")
            await page.screenshot(path=str(ARTIFACTS / "portal-usul-desktop.png"), full_page=True)
            await context.close()

            # another desa's official: none of Senyiur's nominations, names or letters
            other, page = await open_portal(browser, base, "elsewhere")
            options = await page.locator("#desa_code option").evaluate_all("os => os.map(o => o.value)")
            assert options == ["64.08.02.2001"]  # the desa list is the account's area only
            await page.goto(f"{base}/portal/daftar")
            assert await page.locator(".list > li").count() == 0
            assert await page.get_by_text("Siti Rahmawati").count() == 0
            some = await pool.fetchval("SELECT id FROM nominations LIMIT 1")
            letter = await page.request.get(f"{base}/portal/surat/{some}")
            assert letter.status == 404
            prefill = await page.request.get(f"{base}/portal/api/nominations/{some}/request")
            assert prefill.status == 404
            await other.close()
        finally:
            await browser.close()
    denied = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE principal = 'acct-elsewhere' AND action LIKE '%denied'"
    )
    assert denied == 2
    assert uuid.UUID(str(some))
