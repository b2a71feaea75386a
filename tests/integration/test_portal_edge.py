"""Hostile input on the portal's and the letter's routes: refused before the body matters, field reasons without
the values sent, the area check, bounded bodies (the nomination service's real app on real PostgreSQL)."""

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
from tests.portal_support import JAK_LUAY, JPEG, KEYS, SENYIUR, nomination_app, request

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(create_database: Any) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    dsn = await create_database("portal_edge")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    app = nomination_app(pool, letter_max_bytes=1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nomination") as c:
        yield c, pool
    await pool.close()


def key(account: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[account]}


async def test_portal_routes_refuse_hostile_input(client: tuple[httpx.AsyncClient, asyncpg.Pool]) -> None:
    c, pool = client
    nid = uuid.uuid4()
    for method, path in (
        ("GET", "/portal/usul"),
        ("GET", "/portal/daftar"),
        ("GET", "/portal/api/aturan"),
        ("POST", "/portal/api/nominations"),
        ("PUT", f"/portal/api/nominations/{nid}/letter"),
        ("GET", f"/portal/api/nominations/{nid}/request"),
        ("GET", f"/portal/surat/{nid}"),
    ):
        r = await c.request(method, path, content=b"{}")
        assert r.status_code == 401, (method, path, r.text)  # sign-in is off here: no key, nothing
    # a verifier or auditor does not nominate
    assert (await c.get("/portal/usul", headers=key("verifier"))).status_code == 403
    # field reasons, never the value
    bad = request("6408014513900001", SENYIUR, name="<script>alert(1)</script>")
    r = await c.post("/portal/api/nominations", json=bad, headers=key("desa"))
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"nik", "full_name"} <= fields
    assert "script" not in r.text and "6408014513900001" not in r.text
    # the area check, as on the API
    r = await c.post("/portal/api/nominations", json=request("6408014501900001", JAK_LUAY), headers=key("desa"))
    assert r.status_code == 403 and r.json()["code"] == "OUT_OF_AREA"
    # bounded bodies: the form's JSON and the letter
    r = await c.post("/portal/api/nominations", content=b"{" + b" " * 70_000 + b"}", headers=key("desa"))
    assert r.status_code == 413
    ok = await c.post("/portal/api/nominations", json=request("6408014501900001", SENYIUR), headers=key("desa"))
    assert ok.status_code == 202
    created = ok.json()["nomination_id"]
    r = await c.put(f"/portal/api/nominations/{created}/letter", content=JPEG + b"\0" * 2000, headers=key("desa"))
    assert r.status_code == 413
    # another area's nomination: as if absent, and audited
    r = await c.put(f"/portal/api/nominations/{created}/letter", content=JPEG, headers=key("elsewhere"))
    assert r.status_code == 404
    r = await c.get(f"/portal/api/nominations/{created}/request", headers=key("elsewhere"))
    assert r.status_code == 404
    r = await c.get(f"/portal/api/nominations/{created}/request", headers=key("desa"))
    assert r.status_code == 409  # only a rejected nomination is prefilled for correction
    r = await c.get("/portal/static/..%2F..%2Fsettings.py", headers=key("desa"))
    assert r.status_code == 404
    denied = await pool.fetchval("SELECT count(*) FROM audit_log WHERE principal = 'acct-elsewhere'")
    assert denied == 2
