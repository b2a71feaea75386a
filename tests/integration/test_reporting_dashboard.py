"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, screenshots kept.

The reporting service runs in this test's event loop (uvicorn, real PostgreSQL); its read model is filled through
the same batch handler the consumers call, with a few hundred nominations spread over the regency and three weeks
(the path from Kafka is covered by test_reporting_service.py). Screenshots go to test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from services.reporting import handlers
from services.reporting.app import SPEC, create
from services.reporting.settings import FundingSource, ReportingSettings
from shared import db, topics
from shared.regions import default_regions
from tests import reporting_events as events
from tests.reporting_events import auditor, reporting_deps

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OCCUPATIONS = ["nelayan", "petani_pekebun", "buruh_tani", "ojek", "pedagang_kecil", "buruh_harian_lepas", "sopir"]
REJECTIONS = ["NAME_MISMATCH", "REGISTRY_NOT_FOUND", "DUPLICATE_PERSON", "WAGE_EARNER", "DECEASED"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stream(count: int, seed: int = 6) -> list[Any]:
    """Events of ``count`` nominations over three weeks: most enrolled, some waitlisted, rejected or in review."""
    rng = random.Random(seed)
    desa = [r.code for r in default_regions().by_level("desa_kelurahan") if r.code.startswith("64.08.")]
    weights = [rng.random() ** 3 for _ in desa]  # a few villages nominate most
    start = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)
    out = []
    for i in range(count):
        nid, code = uuid.uuid4(), rng.choices(desa, weights)[0]
        at = start + timedelta(days=21 * (i / count) ** 0.7, minutes=rng.randrange(600))
        occupation = rng.choice(OCCUPATIONS)
        out.append(events.submitted(nid, code, occupation, at))
        fate = rng.random()
        later = at + timedelta(hours=rng.randrange(1, 48))
        if fate < 0.15:
            codes = tuple(rng.choice(REJECTIONS) for _ in range(rng.choice([1, 1, 2])))
            out.append(events.rejected(nid, code, codes, later))
        elif fate < 0.2:
            out.append(events.review(nid, code, later))
        else:
            out.append(events.verified(nid, code, later, occupation=occupation))
            if fate < 0.3:
                out.append(events.waitlisted(nid, code, later, position=i + 1))
            else:
                out.append(events.confirmed(nid, code, "APBD-KAB" if fate < 0.8 else "APBD-PROV", later))
    return out


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash .ci/ensure-chromium.sh` (CI's .ci/run does), "
            "i.e. apt-get install -y chromium",
            pytrace=False,
        )
    return CHROMIUM


async def test_dashboard_renders_in_chromium(
    chromium: Path, infra: Any, create_database: Any, topic_prefix: str
) -> None:
    from playwright.async_api import async_playwright

    dsn = await create_database("reporting_ui")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    auth_settings, headers = auditor()
    port = free_port()
    settings = ReportingSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=topic_prefix,
        http_port=port,
        target=500,
        funding_sources=[
            FundingSource(code="APBD-KAB", name="APBD Kab. Kutai Timur", quota=250, premium_idr=16800),
            FundingSource(code="APBD-PROV", name="APBD Prov. Kaltim", quota=100, premium_idr=16800),
        ],
        **auth_settings,
    )
    pool = await db.create_pool(dsn, 1, 2)
    try:
        events = stream(400)
        async with pool.acquire() as conn, conn.transaction():
            await handlers.apply_events(reporting_deps(pool, settings), conn, events)
        covered = await pool.fetchval("SELECT count(*) FROM report_nominations WHERE status = 'enrolled'")
    finally:
        await pool.close()

    server = uvicorn.Server(uvicorn.Config(create(settings), host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        for _ in range(600):  # polling until uvicorn listens (30 s at most)
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the reporting service did not start"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
            try:
                context = await browser.new_context(
                    extra_http_headers=headers, viewport={"width": 1400, "height": 900}, locale="id-ID"
                )
                page = await context.new_page()
                response = await page.goto(f"http://127.0.0.1:{port}/")
                assert response is not None and response.status == 200
                assert await page.title() == "Dasbor Perlindungan Pekerja Rentan"
                assert (await page.locator("#covered").inner_text()).replace(".", "") == str(covered)
                for heading in ("Cakupan terhadap target", "Per kecamatan", "Alasan penolakan teratas"):
                    assert await page.get_by_role("heading", name=heading).count() == 1, heading
                assert await page.locator("#map path").count() == 18  # the kecamatan of Kutai Timur
                assert await page.locator("#over-time polyline").count() == 2
                assert await page.locator("#budget").get_by_text("APBD Kab. Kutai Timur").count() == 1
                await page.screenshot(path=str(ARTIFACTS / "dashboard-id.png"), full_page=True)

                await page.click("#switch-lang")
                await page.wait_for_url("**/?lang=en")
                assert await page.get_by_role("heading", name="Coverage against the target").count() == 1
                assert await page.get_by_text("Motorcycle taxi").count() >= 1  # worker categories in English
                await page.screenshot(path=str(ARTIFACTS / "dashboard-en.png"), full_page=True)
            finally:
                await browser.close()
        # `payung report` reads the same API
        env = {**os.environ, "PAYUNG_REPORTING_URL": f"http://127.0.0.1:{port}"}
        env.pop("PAYUNG_API_KEY", None)
        if headers:
            env["PAYUNG_API_KEY"] = headers["X-API-Key"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "deploy.cli", "report", "budget", "--csv", env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0
        lines = out.decode().splitlines()
        assert lines[0] == "sumber_dana,nama,kuota,aktif,premi_idr,terpakai_setahun_idr,alokasi_setahun_idr"
        assert lines[1].startswith("APBD-KAB,APBD Kab. Kutai Timur,250,") and lines[1].endswith(f",{250 * 16800 * 12}")
    finally:
        server.should_exit = True
        await serving
    assert (ARTIFACTS / "dashboard-id.png").stat().st_size > 10_000
