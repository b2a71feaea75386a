"""The reviewer's workspace in Debian's Chromium: a probable duplicate decided from the keyboard with a mandatory
note, the letter shown from the nomination service, two reviewers deciding the same case at once (the second is
told), every view and decision audited; axe-core on every page; screenshots at phone and desktop sizes.

Both services are their real apps on their own databases (the verification case made by the real consumer from a
real registry snapshot, as in test_verification_reviews.py); the letter is read by the browser from the nomination
service, never across databases.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from services.nomination.adapters.letters import Letter
from services.nomination.app import SPEC as NOMINATION
from services.nomination.commands import StoreLetter
from services.nomination.handlers import letters
from services.nomination.repository import nominations
from services.verification.app import create
from services.verification.settings import VerificationSettings
from shared import db, messaging, outbox
from shared.auth import hash_api_key, new_api_key
from shared.service import Runtime
from tests.browser.conftest import ARTIFACTS, BROWSER_ARGS, DESKTOP, PHONE, check_axe
from tests.integration.test_verification_handler import (
    PREFIX,
    dsn,  # noqa: F401  (fixture)
    load_registry,
    make_consumer,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    submitted,
)
from tests.integration.test_verification_reviews import PEOPLE, SITI, SITI_AGAIN
from tests.portal_support import JPEG, KEYS, nomination_app, nomination_deps

pytestmark = pytest.mark.integration
REVIEWERS = {"verifikator-1": new_api_key(), "verifikator-2": new_api_key()}


@pytest.fixture
async def nomination_pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    nomination_dsn = await create_database("portal_review_nom")
    await asyncio.to_thread(db.migrate, nomination_dsn, NOMINATION.migrations)
    p = await db.create_pool(nomination_dsn, 1, 4)
    yield p
    await p.close()


async def store_nomination(target: asyncpg.Pool, env: Any) -> None:
    """The nomination service's own row and letter for the case's nomination (as the portal would have stored)."""
    p = env.payload
    row = {
        "id": p.nomination_id,
        "person_key": env.person_key,
        "nik": p.nik,
        "full_name": p.full_name,
        "birth_date": p.birth_date,
        "sex": p.sex,
        "phone": p.phone,
        "address": orjson.loads(p.address.model_dump_json()),
        "desa_code": p.address.desa_code,
        "occupation": p.occupation,
        "nominator": orjson.loads(p.nominator.model_dump_json()),
        "supporting_letter": orjson.loads(p.supporting_letter.model_dump_json()) if p.supporting_letter else None,
    }
    async with target.acquire() as conn, conn.transaction():
        await nominations.insert(conn, row)
    command = StoreLetter(caller=_admin(), nomination_id=p.nomination_id, content=JPEG)
    assert isinstance(await messaging.run(nomination_deps(target), letters.store, command), Letter)


def _admin() -> Any:
    from shared.auth import Principal, Role

    return Principal(name="acct-admin", role=Role.PROGRAMME_ADMIN)


async def test_two_reviewers_decide_a_duplicate(
    chromium: Any,
    axe_source: str,
    serve: Any,
    dsn: str,  # noqa: F811
    pool: asyncpg.Pool,  # noqa: F811
    nomination_pool: asyncpg.Pool,
    tmp_path: Any,
) -> None:
    from playwright.async_api import async_playwright, expect

    await load_registry(dsn, tmp_path, PEOPLE)
    siti, siti_again = submitted(SITI), submitted(SITI_AGAIN)
    await make_consumer(pool).process(records([siti, siti_again]))
    [case_id] = [r["id"] for r in await pool.fetch("SELECT id FROM reviews WHERE status = 'open'")]
    await store_nomination(nomination_pool, siti_again)

    reviewers = {k: {"name": n, "role": "verifier"} for n, k in REVIEWERS.items()}
    nomination_base = await serve(nomination_app(nomination_pool, extra_keys=reviewers))
    settings = VerificationSettings(
        database_url=dsn,
        kafka_bootstrap="unused:9092",
        topic_prefix=PREFIX,
        nomination_public_url=nomination_base,
        api_keys={hash_api_key(k): {"name": n, "role": "verifier"} for n, k in REVIEWERS.items()}
        | {hash_api_key(KEYS["desa"]): {"name": "acct-desa", "role": "nominator", "area": "64.08.01.2001"}},
    )
    app = create(settings)
    relay = outbox.OutboxRelay("postgresql://unused/unused", producer=None)  # type: ignore[arg-type]
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=relay, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = make_deps(pool, nomination_public_url=nomination_base)
    base = await serve(app)
    ARTIFACTS.mkdir(exist_ok=True)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), headless=True, args=BROWSER_ARGS)
        try:
            # the same key on both services here: the browser sends it to each (an SSO session in production)
            one = await browser.new_context(
                viewport=DESKTOP, extra_http_headers={"X-API-Key": REVIEWERS["verifikator-1"]}
            )
            two = await browser.new_context(
                viewport=PHONE, extra_http_headers={"X-API-Key": REVIEWERS["verifikator-2"]}
            )
            # the letter comes from the nomination service, which knows these reviewers by the same keys
            page1, page2 = await one.new_page(), await two.new_page()

            await page1.goto(f"{base}/ruang-kerja?kecamatan=64.08.02")
            assert await page1.locator("tbody tr").count() == 0  # the filter by kecamatan
            await page1.goto(f"{base}/ruang-kerja?kecamatan=64.08.01&alasan=POSSIBLE_DUPLICATE")
            await check_axe(page1, axe_source, "queue")
            await page1.screenshot(path=str(ARTIFACTS / "workspace-queue-desktop.png"), full_page=True)
            # keyboard only: Tab to the case link, Enter
            link = page1.get_by_role("link", name=f"Kasus {case_id}")
            await link.focus()
            await page1.keyboard.press("Enter")
            await page1.wait_for_url(f"**/ruang-kerja/{case_id}")
            await page2.goto(f"{base}/ruang-kerja/{case_id}")  # the second reviewer opens the same case

            assert await page1.get_by_text("SITI AMINAH").count() >= 2  # the nominated person and the candidate
            assert SITI_AGAIN.nik not in await page1.content()  # NIKs masked
            frame = page1.frame_locator("iframe")
            await expect(frame.locator("img")).to_have_count(1)  # Chromium shows the JPEG letter
            await check_axe(page1, axe_source, "case")
            await page1.screenshot(path=str(ARTIFACTS / "workspace-case-desktop.png"), full_page=True)
            await page2.screenshot(path=str(ARTIFACTS / "workspace-case-phone.png"), full_page=True)

            # without a note the browser does not send (required); the server refuses it too, naming the field
            await page1.check("input[name=keputusan][value=reject]")
            await page1.click("button:has-text('Simpan keputusan')")
            assert await page1.evaluate("document.querySelector('#catatan').validity.valueMissing")
            url = f"{base}/ruang-kerja/{case_id}/keputusan"
            empty = await page1.request.post(
                url, form={"keputusan": "reject", "alasan": "DUPLICATE_PERSON", "versi": "0"}
            )
            assert empty.status == 422 and "Catatan wajib diisi" in await empty.text()
            bogus = await page1.request.post(
                url, form={"keputusan": "<b>x</b>", "catatan": "<script>y</script>", "versi": "0"}
            )
            assert bogus.status == 422 and "<script>y" not in await bogus.text()  # never echoed
            # from the keyboard: the form's own order
            await page1.check("input[name=keputusan][value=reject]")
            await page1.select_option("#alasan", "DUPLICATE_PERSON")
            await page1.focus("#catatan")
            await page1.keyboard.type("KK dan tanggal lahir sama dengan peserta terverifikasi")
            await page1.keyboard.press("Tab")  # to the save button
            await page1.keyboard.press("Enter")
            await page1.wait_for_url("**/ruang-kerja?selesai=*")
            assert await page1.locator("tbody tr").count() == 0

            # the second reviewer, who opened the case before, approves: told, nothing written
            await page2.check("input[name=keputusan][value=approve]")
            await page2.fill("#catatan", "bukan duplikat")
            await page2.click("button:has-text('Simpan keputusan')")
            conflict = page2.locator("#konflik")
            await expect(conflict).to_contain_text("sudah diputuskan oleh verifikator lain")
            await expect(conflict).to_contain_text("verifikator-1")
            await check_axe(page2, axe_source, "conflict")
            await page2.screenshot(path=str(ARTIFACTS / "workspace-conflict-phone.png"), full_page=True)

            # a nominator may not open the workspace
            desa = await browser.new_context(extra_http_headers={"X-API-Key": KEYS["desa"]})
            refused = await (await desa.new_page()).goto(f"{base}/ruang-kerja")
            assert refused is not None and refused.status == 403
        finally:
            await browser.close()

    decisions = await pool.fetch("SELECT reviewer, decision, note FROM review_decisions")
    assert [(d["reviewer"], d["decision"]) for d in decisions] == [("verifikator-1", "reject")]
    assert await pool.fetchval("SELECT status FROM reviews WHERE id = $1", case_id) == "rejected"
    trail = [
        (r["principal"], r["action"])
        for r in await pool.fetch(
            "SELECT principal, action FROM audit_log WHERE subject_id = $1 ORDER BY id", str(case_id)
        )
    ]
    assert ("verifikator-1", "review.read") in trail and ("verifikator-2", "review.read") in trail
    assert ("verifikator-1", "review.decided") in trail
    assert ("verifikator-2", "review.decision_conflict") in trail
    assert ("verifikator-2", "review.decided") not in trail
    reads = await nomination_pool.fetch(
        "SELECT principal FROM audit_log WHERE action = 'letter.read' AND subject_id = $1",
        str(siti_again.payload.nomination_id),
    )
    assert {r["principal"] for r in reads} >= {"verifikator-1"}
    assert uuid.UUID(str(siti_again.payload.nomination_id))
