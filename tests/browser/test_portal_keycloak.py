"""The nominator's portal with a real sign-in: Keycloak's login page, the session cookie and its CSRF token (no
API key anywhere), in Debian's Chromium. A desa official sends a nomination with its letter; the audit row names
the signed-in account (``oidc:<sub>``); an official of another desa sees none of it; a request without the
session's CSRF token is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from deploy.native import keycloak
from deploy.native.config import StackTestConfig
from services.nomination.app import SPEC
from shared import db
from shared.websession import WebSignInSettings
from tests.browser.conftest import ARTIFACTS, BROWSER_ARGS, PHONE, check_axe
from tests.browser.test_portal import fill
from tests.portal_support import nomination_app

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("portal_keycloak")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    p = await db.create_pool(dsn, 1, 4)
    yield p
    await p.close()


async def sign_in(page: Any, base: str, issuer: str, username: str, password: str) -> None:
    await page.goto(base + "/portal/usul")
    assert page.url.startswith(issuer + "/protocol/openid-connect/auth"), page.url  # Keycloak's own page
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#kc-login")
    await page.wait_for_url(base + "/portal/usul")
    await page.wait_for_selector("form#usul[data-ready='1']")


async def test_a_signed_in_official_nominates(
    idp: StackTestConfig, chromium: Any, axe_source: str, pool: asyncpg.Pool
) -> None:
    import uvicorn
    from playwright.async_api import async_playwright, expect

    env = keycloak.service_env(idp, "nomination")
    web = WebSignInSettings(**{k.removeprefix("PAYUNG_").lower(): v for k, v in env.items()})
    port = idp.nomination_port  # the realm's redirect URI names this port
    app = nomination_app(pool, web=web)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve())
    base, issuer = f"http://127.0.0.1:{port}", keycloak.issuer(idp)
    passwords = keycloak.ensure_secrets(idp.stack_dir)["users"]
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        for _ in range(600):
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        assert server.started
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
            try:
                context = await browser.new_context(viewport=PHONE, locale="id-ID")
                page = await context.new_page()
                await sign_in(page, base, issuer, "nominator-senyiur", passwords["nominator-senyiur"])
                assert "nominator-senyiur" in await page.locator(".who").inner_text()
                await check_axe(page, axe_source, "usul (signed in)")
                await fill(page, "6408014501900001", "Siti Rahmawati", "1990-01-05")
                await page.click("form#usul button[type=submit]")
                await expect(page.locator("#antrian li[data-state=terkirim]")).to_have_count(1, timeout=30_000)
                await page.screenshot(path=str(ARTIFACTS / "portal-keycloak-phone.png"), full_page=True)
                # the session cookie alone is not enough for a write: the CSRF token is
                no_token = await context.request.post(
                    base + "/portal/api/nominations", data="{}", headers={"Content-Type": "application/json"}
                )
                assert no_token.status == 403
                # sign-out: here and at Keycloak (the page's CSP lets the form's redirect reach the provider)
                await page.get_by_role("button", name="Keluar").click()
                await page.wait_for_url(base + "/auth/signed-out")
                await page.goto(base + "/portal/usul")
                assert page.url.startswith(issuer), page.url
                await context.close()

                other = await browser.new_context(viewport=PHONE, locale="id-ID")
                page = await other.new_page()
                await sign_in(page, base, issuer, "nominator-kerayaan", passwords["nominator-kerayaan"])
                await page.goto(base + "/portal/daftar")
                assert await page.locator(".list > li").count() == 0
                nid = await pool.fetchval("SELECT id FROM nominations")
                assert (await other.request.get(f"{base}/portal/surat/{nid}")).status == 404
                await other.close()
            finally:
                await browser.close()
    finally:
        server.should_exit = True
        await serving
    rows = await pool.fetch("SELECT principal, action FROM audit_log WHERE action LIKE 'letter.%' ORDER BY id")
    actions = [(r["principal"].startswith("oidc:"), r["action"]) for r in rows]
    assert actions == [(True, "letter.uploaded"), (True, "letter.read_denied")]
    assert await pool.fetchval("SELECT count(*) FROM nomination_letters") == 1
