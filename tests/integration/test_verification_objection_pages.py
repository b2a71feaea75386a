"""The reviewers' Sanggahan pages through the service's real app (edge, guard, error format) on real PostgreSQL:
the queue by deadline with overdue cases marked, a case page, evidence served as an attachment, take-up and a
decision from the forms, field errors that never echo the value, an auditor who may read but not decide, and a
reviewer of another area who is not shown the case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from services.verification.app import create
from services.verification.settings import VerificationSettings
from shared import outbox
from shared.auth import hash_api_key, new_api_key
from shared.service import Runtime
from tests.integration.test_verification_handler import (
    PREFIX,
    dsn,  # noqa: F401  (fixture)
    make_deps,
    pool,  # noqa: F401  (fixture)
)
from tests.integration.test_verification_objections import (
    PDF,
    evidence,
    filed,
    objection_consumer,
    objection_records,
    rejected_by_name,
)

pytestmark = pytest.mark.integration
KEYS = {"verifikator-1": new_api_key(), "auditor-1": new_api_key(), "verifikator-lain": new_api_key()}
ROLES = {
    "verifikator-1": {"name": "verifikator-1", "role": "verifier"},
    "auditor-1": {"name": "auditor-1", "role": "auditor"},
    "verifikator-lain": {"name": "verifikator-lain", "role": "verifier", "area": "64.72"},
}


@pytest.fixture
async def app_client(dsn: str, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    settings = VerificationSettings(
        database_url=dsn,
        kafka_bootstrap="unused:9092",
        topic_prefix=PREFIX,
        api_keys={hash_api_key(KEYS[n]): r for n, r in ROLES.items()},
    )
    app = create(settings)
    relay = outbox.OutboxRelay("postgresql://unused/unused", producer=None)  # type: ignore[arg-type]
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=relay, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = make_deps(pool)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://verification") as c:
        yield c


def as_(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name]}


async def test_the_sanggahan_pages(dsn: str, pool: asyncpg.Pool, tmp_path: Any, app_client: Any) -> None:  # noqa: F811
    deps = make_deps(pool)
    nomination = await rejected_by_name(dsn, pool, tmp_path)
    late = filed(nomination)
    late = late.model_copy(update={"payload": late.payload.model_copy(update={"due_by": date(2020, 1, 1)})})
    with_proof = filed(nomination, proof=(evidence(),))
    await objection_consumer(deps).process(objection_records([with_proof, late]))

    queue = await app_client.get("/ruang-kerja/sanggahan", headers=as_("verifikator-1"))
    assert queue.status_code == 200 and 'lang="id"' in queue.text
    assert queue.text.index(str(late.payload.objection_id)) < queue.text.index(str(with_proof.payload.objection_id))
    assert queue.text.count("lewat batas waktu") == 1
    english = await app_client.get("/ruang-kerja/sanggahan?lang=en", headers=as_("verifikator-1"))
    assert 'lang="en"' in english.text and "(overdue)" in english.text and "Open objections" in english.text
    assert (await app_client.get("/ruang-kerja/sanggahan?lang=xx", headers=as_("verifikator-1"))).status_code == 422
    other_area = await app_client.get("/ruang-kerja/sanggahan", headers=as_("verifikator-lain"))
    assert str(late.payload.objection_id) not in other_area.text

    oid = with_proof.payload.objection_id
    page = await app_client.get(f"/ruang-kerja/sanggahan/{oid}", headers=as_("verifikator-1"))
    assert page.status_code == 200
    assert "NAME_MISMATCH" in page.text and "Nama sudah diperbaiki di Dukcapil." in page.text
    assert "Ambil untuk ditinjau" in page.text
    assert (await app_client.get(f"/ruang-kerja/sanggahan/{oid}", headers=as_("verifikator-lain"))).status_code == 404
    auditor = await app_client.get(f"/ruang-kerja/sanggahan/{oid}", headers=as_("auditor-1"))
    assert auditor.status_code == 200 and "Simpan keputusan" not in auditor.text

    got = await app_client.get(f"/ruang-kerja/sanggahan/{oid}/bukti/0", headers=as_("verifikator-1"))
    assert got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert (
        await app_client.get(f"/ruang-kerja/sanggahan/{oid}/bukti/1", headers=as_("verifikator-1"))
    ).status_code == 404

    refused = await app_client.post(
        f"/ruang-kerja/sanggahan/{oid}/keputusan",
        data={"keputusan": "upheld", "catatan": "RAHASIA-" + "y" * 1000, "versi": "0"},
        headers=as_("auditor-1"),
    )
    assert refused.status_code == 403
    taken = await app_client.post(
        f"/ruang-kerja/sanggahan/{oid}/ambil", data={"versi": "0"}, headers=as_("verifikator-1")
    )
    assert taken.status_code == 303
    stale = await app_client.post(
        f"/ruang-kerja/sanggahan/{oid}/ambil", data={"versi": "0"}, headers=as_("verifikator-1")
    )
    assert stale.status_code == 409
    too_long = await app_client.post(
        f"/ruang-kerja/sanggahan/{oid}/keputusan",
        data={"keputusan": "dismissed", "catatan": "RAHASIA-" + "y" * 1000, "versi": "1"},
        headers=as_("verifikator-1"),
    )
    assert too_long.status_code == 422 and "RAHASIA" not in too_long.text
    assert "paling panjang 1000" in too_long.text
    done = await app_client.post(
        f"/ruang-kerja/sanggahan/{oid}/keputusan",
        data={"keputusan": "dismissed", "catatan": "Bukti tidak cukup.", "versi": "1"},
        headers=as_("verifikator-1"),
    )
    assert done.status_code == 303
    again = await app_client.post(
        f"/ruang-kerja/sanggahan/{oid}/keputusan",
        data={"keputusan": "upheld", "catatan": "Lagi.", "versi": "2"},
        headers=as_("verifikator-1"),
    )
    assert again.status_code == 409
    states = await pool.fetchval("SELECT state FROM objections WHERE objection_id = $1", oid)
    assert states == "dismissed"
