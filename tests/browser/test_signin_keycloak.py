"""People sign in through Keycloak's real login page and use the dashboard, in Debian's Chromium (Playwright).

For every demo user of the realm (deploy/native/keycloak.py): open the dashboard without a session, land on Keycloak's
login page, type the username and password, come back signed in; a nominator sees its own area only (the page, the
map and the XLSX export), the programme's staff see everything; the JSON API does not take the session cookie;
sign-out ends the session here and at Keycloak (the next visit shows the login form again). axe-core checks every
page the service serves (the dashboard, its print view, the signed-out page): no serious or critical violation.
Screenshots at phone (360x640) and desktop sizes go to test-artifacts/.

The reporting service runs in this test's event loop (uvicorn, real PostgreSQL) on the test instance's reporting
port, which the realm lists as a redirect URI; its read model is filled through the consumers' batch handler.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import uvicorn
from openpyxl import load_workbook

from deploy.native import keycloak
from deploy.native.config import StackTestConfig
from services.reporting import handlers
from services.reporting.app import SPEC, create
from services.reporting.domain import geomap
from services.reporting.settings import FundingSource, ReportingSettings
from shared import db, topics
from shared.websession import WebSignInSettings
from tests import reporting_events as events
from tests.browser.conftest import ARTIFACTS, BROWSER_ARGS
from tests.integration.test_reporting_dashboard import stream
from tests.reporting_events import auditor, reporting_deps

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SENYIUR, KERAYAAN = "64.08.01.2001", "64.08.05.2001"
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 900}
PAGE_IMPACTS = ("serious", "critical")


def local_stream() -> list[Any]:
    """Known numbers in the two demo desa on top of a few hundred nominations over the regency."""
    at = datetime(2026, 2, 10, 2, 0, tzinfo=UTC)
    out = stream(300, seed=14)
    for desa, enrolled, rejected in ((SENYIUR, 7, 2), (KERAYAAN, 4, 1)):
        for i in range(enrolled + rejected):
            nid = uuid.uuid4()
            out.append(events.submitted(nid, desa, "nelayan", at + timedelta(hours=i)))
            if i < enrolled:
                out.append(events.verified(nid, desa, at + timedelta(hours=i, minutes=5)))
                out.append(events.confirmed(nid, desa, "APBD-KAB", at + timedelta(hours=i, minutes=9)))
            else:
                out.append(events.rejected(nid, desa, ("NAME_MISMATCH",), at + timedelta(hours=i, minutes=5)))
    return out


async def count_covered(dsn: str, area: str | None) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM report_nominations WHERE status = 'enrolled'"
                " AND ($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%')",
                area,
            )
        )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def site(idp: StackTestConfig, infra: Any, create_database: Any) -> AsyncIterator[dict[str, Any]]:
    """The reporting service with sign-in through the test Keycloak; yields its base URL and the DSN."""
    dsn = await create_database("reporting_signin")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    prefix = f"signin{uuid.uuid4().hex[:8]}."
    await topics.ensure_topics(infra.kafka_bootstrap, prefix)
    port = idp.reporting_port
    auth_settings, _ = auditor()
    settings = ReportingSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=prefix,
        http_port=port,
        target=500,
        funding_sources=[FundingSource(code="APBD-KAB", name="APBD Kab. Kutai Timur", quota=250, premium_idr=16800)],
        **auth_settings,
    )
    pool = await db.create_pool(dsn, 1, 2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await handlers.apply_events(reporting_deps(pool, settings), conn, local_stream())
    finally:
        await pool.close()
    env = keycloak.service_env(idp, "reporting")
    web = WebSignInSettings(**{k.removeprefix("PAYUNG_").lower(): v for k, v in env.items()})
    server = uvicorn.Server(uvicorn.Config(create(settings, web), host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(600):  # polling until uvicorn listens (30 s at most)
            if server.started or serving.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "the reporting service did not start"
        yield {"base": f"http://127.0.0.1:{port}", "dsn": dsn, "issuer": keycloak.issuer(idp)}
    finally:
        server.should_exit = True
        await serving


async def check_accessibility(page: Any, axe_source: str, what: str) -> None:
    await page.add_script_tag(content=axe_source)
    result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in PAGE_IMPACTS
    ]
    assert bad == [], f"{what}: accessibility violations {bad}"


async def sign_in(page: Any, site: dict[str, Any], username: str, password: str) -> None:
    response = await page.goto(site["base"] + "/?lang=id")
    assert response is not None
    assert page.url.startswith(site["issuer"] + "/protocol/openid-connect/auth"), page.url  # Keycloak's own page
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#kc-login")
    await page.wait_for_url(site["base"] + "/?lang=id")


@pytest.mark.parametrize("username", list(keycloak.DEMO_USERS))
async def test_sign_in_use_the_dashboard_and_sign_out(
    username: str, site: dict[str, Any], idp: StackTestConfig, chromium: Any, axe_source: str
) -> None:
    from playwright.async_api import async_playwright

    spec = keycloak.DEMO_USERS[username]
    password = keycloak.ensure_secrets(idp.stack_dir)["users"][username]
    nominator = spec["role"] == "nominator"
    area = spec["area"] if nominator else None
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
        try:
            context = await browser.new_context(viewport=PHONE if nominator else DESKTOP, locale="id-ID")
            page = await context.new_page()
            await sign_in(page, site, username, password)
            assert await page.locator("#signed-in").inner_text() == f"Masuk sebagai {username}"
            covered = await count_covered(site["dsn"], area)
            assert (await page.locator("#covered").inner_text()).replace(".", "") == str(covered)
            cookie = next(c for c in await context.cookies(site["base"]) if c["name"] == "payung_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

            kecamatan_rows = page.locator("#kecamatan tr")
            coloured = page.locator(f'#map path:not([fill="{geomap.NO_DATA}"])')
            if nominator:
                # its own kecamatan only, in the table and coloured on the map; no budget, no pipeline health
                assert area is not None
                assert await kecamatan_rows.count() == 2  # header + its kecamatan
                assert await coloured.count() == 1
                assert await page.locator("#map path").count() == 18
                assert await page.locator("#budget").count() == 0 and await page.locator("#health").count() == 0
                desa = await page.locator("#desa td:first-child").all_inner_texts()
                if len(area) > 8:  # a desa official: exactly its desa
                    assert desa == [spec["name"].removeprefix("Sekdes ")]
                else:
                    assert len(desa) >= 1 and "Kerayaan" not in desa
            else:
                assert await kecamatan_rows.count() == 19
                assert await coloured.count() == 18
                assert await page.locator("#budget").count() == 1
                assert await page.locator("#target-cost").get_by_text("Rp100.800.000").count() == 1  # 500 x 16,800 x 12
            await check_accessibility(page, axe_source, f"dashboard as {username}")
            await page.screenshot(path=str(ARTIFACTS / f"signin-{username}-{'phone' if nominator else 'desktop'}.png"))

            # the XLSX export: the same scope as the page
            export = await context.request.get(site["base"] + "/dashboard.xlsx?lang=id")
            assert export.status == 200
            wb = load_workbook(io.BytesIO(await export.body()), read_only=True)
            assert "Kecamatan" in wb.sheetnames and "Desa" in wb.sheetnames
            codes = [row[0] for row in wb["Desa"].iter_rows(min_row=2, values_only=True)]
            assert codes and all(area is None or c == area or c.startswith(area + ".") for c in codes)
            assert ("Anggaran" in wb.sheetnames) is (not nominator)

            # the APIs keep their keys: the session cookie is no credential there
            assert (await context.request.get(site["base"] + "/v1/reports/overview")).status == 401

            # the print view and, for one user per size, the other screen size too
            await page.goto(site["base"] + "/?lang=id&print=1")
            await check_accessibility(page, axe_source, f"print view as {username}")
            if username in ("nominator-senyiur", "auditor"):
                await page.set_viewport_size(DESKTOP if nominator else PHONE)
                await page.goto(site["base"] + "/?lang=en")
                assert await page.locator("#signed-in").inner_text() == f"Signed in as {username}"
                await check_accessibility(page, axe_source, f"English dashboard as {username}")
                other = "desktop" if nominator else "phone"
                await page.screenshot(path=str(ARTIFACTS / f"signin-{username}-{other}-en.png"), full_page=True)
                await page.emulate_media(media="print")
                await page.screenshot(path=str(ARTIFACTS / f"signin-{username}-print.png"), full_page=True)
                await page.emulate_media(media="screen")
                await page.goto(site["base"] + "/?lang=id")

            # sign out: here (the cookie holds no user any more) and at Keycloak (its login form shows again)
            await page.click("#sign-out")
            await page.wait_for_url(site["base"] + "/auth/signed-out")
            assert await page.get_by_role("heading", name="Anda sudah keluar").count() == 1
            await check_accessibility(page, axe_source, "signed-out page")
            await page.goto(site["base"] + "/")
            assert page.url.startswith(site["issuer"] + "/protocol/openid-connect/auth"), page.url
            assert await page.locator("#username").count() == 1
            if username == "nominator-senyiur":
                await page.screenshot(path=str(ARTIFACTS / "signin-keycloak-login-phone.png"))
        finally:
            await browser.close()
