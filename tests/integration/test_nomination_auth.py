"""The nomination API with each role, on real PostgreSQL: who may submit and read what, in which area; audit rows.

The app is the service's real one (``services.nomination.app.create``: central route guard, handlers, audit), with
the runtime set by hand: the routes need the pool only, not Kafka.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.nomination import bootstrap
from services.nomination.app import SPEC, create
from services.nomination.commands import NominationRequest, SubmitNomination
from services.nomination.handlers import submission
from services.nomination.settings import NominationSettings
from shared import db, outbox
from shared.auth import hash_api_key, new_api_key, system
from shared.service import Runtime

pytestmark = pytest.mark.integration

SENYIUR, KELINJAU_ILIR, JAK_LUAY = "64.08.01.2001", "64.08.01.2002", "64.08.02.2001"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "admin": {"role": "programme_admin"},
    "verifier": {"role": "verifier"},
    "auditor": {"role": "auditor"},
    "desa": {"role": "nominator", "area": SENYIUR},  # the official of desa Senyiur
    "kecamatan": {"role": "nominator", "area": "64.08.01"},  # kecamatan Muara Ancalong: Senyiur and Kelinjau Ilir
    "elsewhere": {"role": "nominator", "area": JAK_LUAY},  # another kecamatan
}
KEYS = {account: new_api_key() for account in ACCOUNTS}


def request(nik: str, desa: str) -> dict[str, Any]:
    return {
        "nik": nik,
        "full_name": "Siti Rahmawati",
        "birth_date": "1990-01-05",
        "sex": "F",
        "phone": "081234567890",
        "address": {"kecamatan_code": desa.rsplit(".", 1)[0], "desa_code": desa, "rt": "003", "rw": "002"},
        "occupation": "nelayan",
        "nominator": {"type": "desa", "name": "Kepala Desa", "region_code": desa},
        "supporting_letter": {"number": "140/12/DS/2026", "date": "2026-01-10", "issuer": "Kepala Desa"},
    }


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("nomination_auth")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[Any]:
    settings = NominationSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        person_key_secret="integration-secret-0123456789",
        api_keys={hash_api_key(KEYS[a]): {"name": f"acct-{a}", **spec} for a, spec in ACCOUNTS.items()},
    )
    app = create(settings)
    relay = outbox.OutboxRelay("postgresql://unused/unused", producer=None)  # type: ignore[arg-type]  # never run
    deps = bootstrap.make(pool, settings)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=relay, broker=None, deps=deps)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nomination") as client:

        async def call(
            account: str | None, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
        ) -> httpx.Response:
            sent = {"X-API-Key": KEYS[account]} if account else {}
            return await client.request(method, path, json=body, headers={**sent, **(headers or {})})

        yield call


async def audit_rows(pool: asyncpg.Pool) -> list[tuple[str, str, str | None]]:
    rows = await pool.fetch("SELECT principal, action, subject_id FROM audit_log ORDER BY id")
    return [(r["principal"], r["action"], r["subject_id"]) for r in rows]


async def test_every_endpoint_needs_a_known_key(api: Any) -> None:
    nid = uuid.uuid4()
    for method, path, body in (
        ("POST", "/v1/nominations", request("6408014501900001", SENYIUR)),
        ("POST", "/v1/nominations:batch", {"items": [{"nomination": request("6408014501900001", SENYIUR)}]}),
        ("GET", "/v1/nominations/summary", None),
        ("GET", f"/v1/nominations/{nid}", None),
    ):
        anonymous = await api(None, method, path, body)
        assert anonymous.status_code == 401, (path, anonymous.text)
        assert anonymous.json()["code"] == "UNAUTHENTICATED"
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        for headers in ({"X-API-Key": new_api_key()}, {"Authorization": f"Bearer {new_api_key()}"}):
            assert (await api(None, method, path, body, headers)).status_code == 401, (path, headers)
    # Unauthenticated and invalid: 401 first, the body is never looked at.
    assert (await api(None, "POST", "/v1/nominations", {"nik": "1"})).status_code == 401
    assert (await api(None, "GET", "/health/live")).status_code == 200  # probes stay open
    assert (await api(None, "GET", "/metrics")).status_code == 200  # so do scrapes (no personal data there)


async def test_who_may_submit_where(api: Any, pool: asyncpg.Pool) -> None:
    cases = [  # (account, desa of the address, expected status)
        ("desa", SENYIUR, 202),
        ("desa", KELINJAU_ILIR, 403),  # the neighbouring desa
        ("kecamatan", KELINJAU_ILIR, 202),
        ("kecamatan", JAK_LUAY, 403),  # another kecamatan
        ("admin", JAK_LUAY, 202),
        ("verifier", SENYIUR, 403),  # verification is a separate layer
        ("auditor", SENYIUR, 403),  # read-only
    ]
    created = {}
    for serial, (account, desa, expected) in enumerate(cases, start=1):
        response = await api(account, "POST", "/v1/nominations", request(f"64080145019{serial:05d}", desa))
        assert response.status_code == expected, (account, desa, response.text)
        if expected == 403:
            assert response.json()["code"] in {"OUT_OF_AREA", "FORBIDDEN"}
        else:
            created[account] = response.json()["nomination_id"]
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 3

    rows = await audit_rows(pool)
    submitted = {(p, s) for p, a, s in rows if a == "nomination.submitted"}
    assert submitted == {(f"acct-{a}", nid) for a, nid in created.items()}
    denied = [p for p, a, _ in rows if a == "nomination.submit_denied"]
    assert denied == ["acct-desa", "acct-kecamatan"]  # role refusals happen before the handler: no row


async def test_batch_items_outside_the_area_are_refused_one_by_one(api: Any, pool: asyncpg.Pool) -> None:
    body = {
        "items": [
            {"nomination": request("6408014501900101", SENYIUR)},
            {"nomination": request("6408014501900102", JAK_LUAY)},
        ]
    }
    response = await api("desa", "POST", "/v1/nominations:batch", body)
    assert response.status_code == 200, response.text
    assert [(r["status"], r["code"]) for r in response.json()["results"]] == [(202, "ACCEPTED"), (403, "OUT_OF_AREA")]
    assert (await api("auditor", "POST", "/v1/nominations:batch", body)).status_code == 403
    rows = await audit_rows(pool)
    assert [(p, a) for p, a, _ in rows] == [("acct-desa", "nomination.submitted")]
    assert rows[0][2] == response.json()["results"][0]["nomination_id"]


async def test_who_may_read_which_nomination_and_every_read_is_audited(api: Any, pool: asyncpg.Pool) -> None:
    ids = {}
    for serial, desa in enumerate((SENYIUR, KELINJAU_ILIR, JAK_LUAY), start=1):
        response = await api("admin", "POST", "/v1/nominations", request(f"64080145019002{serial:02d}", desa))
        assert response.status_code == 202
        ids[desa] = response.json()["nomination_id"]
    await pool.execute("DELETE FROM audit_log")

    visible = {  # account -> the desas whose nominations it may see
        "admin": {SENYIUR, KELINJAU_ILIR, JAK_LUAY},
        "verifier": {SENYIUR, KELINJAU_ILIR, JAK_LUAY},
        "auditor": {SENYIUR, KELINJAU_ILIR, JAK_LUAY},
        "desa": {SENYIUR},
        "kecamatan": {SENYIUR, KELINJAU_ILIR},
        "elsewhere": {JAK_LUAY},
    }
    expected_audit = []
    for account, desas in visible.items():
        for desa, nid in ids.items():
            response = await api(account, "GET", f"/v1/nominations/{nid}")
            if desa in desas:
                assert response.status_code == 200, (account, desa, response.text)
                assert response.json()["desa_code"] == desa
                expected_audit.append((f"acct-{account}", "nomination.read", nid))
            else:
                assert response.status_code == 404, (account, desa)  # as if it did not exist
                assert response.json()["code"] == "NOT_FOUND"
                expected_audit.append((f"acct-{account}", "nomination.read_denied", nid))
    assert await audit_rows(pool) == expected_audit
    missing = await api("admin", "GET", f"/v1/nominations/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_summary_is_limited_to_a_nominators_area(api: Any) -> None:
    for serial, desa in enumerate((SENYIUR, SENYIUR, KELINJAU_ILIR, JAK_LUAY), start=1):
        response = await api("admin", "POST", "/v1/nominations", request(f"64080145019003{serial:02d}", desa))
        assert response.status_code == 202
    expected = {"admin": 4, "verifier": 4, "auditor": 4, "desa": 2, "kecamatan": 3, "elsewhere": 1}
    for account, total in expected.items():
        response = await api(account, "GET", "/v1/nominations/summary")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["by_status"] == {"submitted": total}, account
        assert body["area"] == ACCOUNTS[account].get("area")


async def test_a_key_also_works_as_a_bearer_token(api: Any) -> None:
    headers = {"Authorization": f"Bearer {KEYS['desa']}"}
    response = await api(None, "POST", "/v1/nominations", request("6408014501900401", SENYIUR), headers)
    assert response.status_code == 202, response.text
    elsewhere = request("6408014501900402", KELINJAU_ILIR)
    assert (await api(None, "POST", "/v1/nominations", elsewhere, headers)).status_code == 403


async def test_concurrent_batches_naming_the_same_people_give_one_nomination_each(api: Any, pool: asyncpg.Pool) -> None:
    """Two spreadsheets naming the same 300 people in opposite orders, submitted at once: no deadlock (500), every
    person nominated once, and each item answered ACCEPTED in one batch and ALREADY_NOMINATED in the other."""
    people = [request(f"64080145019{serial:05d}", SENYIUR) for serial in range(1, 301)]
    forward = {"items": [{"nomination": p} for p in people]}
    backward = {"items": [{"nomination": p} for p in reversed(people)]}
    for _ in range(3):  # the race is a matter of timing: give it several chances
        await pool.execute("TRUNCATE nominations, idempotency_keys, outbox, audit_log CASCADE")
        answers = await asyncio.gather(*(api("admin", "POST", "/v1/nominations:batch", b) for b in (forward, backward)))
        assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
        first, second = (a.json()["results"] for a in answers)
        for a, b in zip(first, reversed(second), strict=True):
            assert {a["code"], b["code"]} == {"ACCEPTED", "ALREADY_NOMINATED"}, (a, b)
            assert a["nomination_id"] == b["nomination_id"]
        assert await pool.fetchval("SELECT count(*) FROM nominations") == len(people)
        assert await pool.fetchval("SELECT count(*) FROM outbox") == len(people)


async def test_a_batch_item_whose_person_is_nominated_meanwhile_points_to_that_nomination(
    api: Any, pool: asyncpg.Pool
) -> None:
    """A single submission for person A is still in its transaction when a batch naming A and B arrives: the batch
    waits for it, then answers A with that nomination (409) and stores B; one nomination and one event each."""
    a, b = request("6408014501900401", SENYIUR), request("6408014501900402", SENYIUR)
    settings = NominationSettings(
        database_url="postgresql://unused/unused", kafka_bootstrap="unused:9092",
        person_key_secret="integration-secret-0123456789",
    )  # fmt: skip
    command = SubmitNomination(caller=system("test"), request=NominationRequest.model_validate(a))
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        handled = await submission.submit(bootstrap.make(pool, settings), conn, command)
        await outbox.add_events(conn, handled.events, settings.topic_prefix)
        first = handled.answer
        assert isinstance(first, submission.Submitted)
        batch = asyncio.create_task(
            api("admin", "POST", "/v1/nominations:batch", {"items": [{"nomination": a}, {"nomination": b}]})
        )
        await asyncio.sleep(1)  # the batch read "no live nomination of A" and now waits on A's unique key
        assert not batch.done()
        await transaction.commit()
    response = await batch
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert (results[0]["code"], results[0]["nomination_id"]) == ("ALREADY_NOMINATED", str(first.nomination_id))
    assert results[1]["code"] == "ACCEPTED"
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 2
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2


async def test_a_409_names_the_other_nomination_only_to_a_caller_who_may_read_it(api: Any, pool: asyncpg.Pool) -> None:
    """Otherwise the POST is an "is this NIK in the programme, and where?" lookup for any area's key."""
    nik = "6408014501900301"
    first = await api("admin", "POST", "/v1/nominations", request(nik, KELINJAU_ILIR))
    assert first.status_code == 202
    nid = first.json()["nomination_id"]

    stranger = await api("desa", "POST", "/v1/nominations", request(nik, SENYIUR))  # Senyiur may not read it
    assert (stranger.status_code, stranger.json()["code"]) == (409, "ALREADY_NOMINATED")
    assert nid not in stranger.text and "location" not in stranger.headers
    batch = await api("desa", "POST", "/v1/nominations:batch", {"items": [{"nomination": request(nik, SENYIUR)}]})
    assert batch.json()["results"][0]["status"] == 409 and nid not in batch.text

    for account in ("kecamatan", "admin"):  # Kelinjau Ilir lies in the kecamatan's area; the admin sees everything
        desa = KELINJAU_ILIR if account == "kecamatan" else SENYIUR
        known = await api(account, "POST", "/v1/nominations", request(nik, desa))
        assert (known.status_code, known.json()["nomination_id"]) == (409, nid), account
        assert known.headers["location"] == f"/v1/nominations/{nid}"


async def test_idempotency_keys_belong_to_the_caller(api: Any, pool: asyncpg.Pool) -> None:
    """A key one caller used must not turn another caller's own request into a 422 (nor replay the first's)."""
    key = {"Idempotency-Key": "batch-2026-11-0001"}
    mine = await api("desa", "POST", "/v1/nominations", request("6408014501900401", SENYIUR), key)
    theirs = await api("kecamatan", "POST", "/v1/nominations", request("6408014501900402", KELINJAU_ILIR), key)
    assert (mine.status_code, theirs.status_code) == (202, 202), theirs.text
    assert mine.json()["nomination_id"] != theirs.json()["nomination_id"]
    again = await api("desa", "POST", "/v1/nominations", request("6408014501900401", SENYIUR), key)
    assert (again.status_code, again.headers.get("idempotent-replayed")) == (202, "true")
    assert again.json()["nomination_id"] == mine.json()["nomination_id"]
    reused = await api("desa", "POST", "/v1/nominations", request("6408014501900403", SENYIUR), key)
    assert reused.status_code == 422  # the caller's own key with another body is still refused
    items = {"items": [{"idempotency_key": "row-1", "nomination": request("6408014501900404", SENYIUR)}]}
    other_items = {"items": [{"idempotency_key": "row-1", "nomination": request("6408014501900405", KELINJAU_ILIR)}]}
    assert (await api("desa", "POST", "/v1/nominations:batch", items)).json()["results"][0]["code"] == "ACCEPTED"
    assert (await api("kecamatan", "POST", "/v1/nominations:batch", other_items)).json()["results"][0][
        "code"
    ] == "ACCEPTED"
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 4


async def test_what_a_nominator_may_claim_comes_from_its_key(api: Any, pool: asyncpg.Pool) -> None:
    """A desa's key cannot submit as Disnaker (which needs no supporting letter) nor as another desa."""
    as_disnaker = request("6408014501900501", SENYIUR)
    as_disnaker["nominator"] = {"type": "disnaker", "name": "Disnaker Kutim", "region_code": "64.08"}
    del as_disnaker["supporting_letter"]
    as_neighbour = request("6408014501900502", SENYIUR)
    as_neighbour["nominator"] = {**as_neighbour["nominator"], "region_code": KELINJAU_ILIR}
    for body in (as_disnaker, as_neighbour):
        refused = await api("desa", "POST", "/v1/nominations", body)
        assert (refused.status_code, refused.json()["code"]) == (403, "NOMINATOR_NOT_ALLOWED"), refused.text
    batch = await api("desa", "POST", "/v1/nominations:batch", {"items": [{"nomination": as_disnaker}]})
    assert (batch.json()["results"][0]["status"], batch.json()["results"][0]["code"]) == (403, "NOMINATOR_NOT_ALLOWED")
    no_letter = request("6408014501900503", SENYIUR)
    del no_letter["supporting_letter"]
    assert (await api("desa", "POST", "/v1/nominations", no_letter)).status_code == 422
    assert await pool.fetchval("SELECT count(*) FROM nominations") == 0
    # programme staff (no area) may file for Disnaker
    assert (await api("admin", "POST", "/v1/nominations", as_disnaker)).status_code == 202
