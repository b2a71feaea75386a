"""The DCI civil-registry adapter against the DCI registry SIMULATOR run as a separate process, over real HTTP:
asynchronous search answered by a signed on-search callback, sync search, the death subscription and its notify,
and callbacks that are forged or replayed (refused, nothing changes)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from deploy.native import procs
from services.enrolment.app import SPEC as ENROLMENT
from services.enrolment.handlers import ending as enrolment_ending
from services.verification.adapters.dci import DciConfig, DciRegistry
from services.verification.api import dci as dci_api
from services.verification.bootstrap import Deps, jobs
from services.verification.handlers import dci as dci_handlers
from services.verification.repository.registry import REGISTRY_COLUMNS
from services.verification.settings import VerificationSettings
from shared import db, dci, topics
from shared.consumer import Consumer
from shared.contracts import (
    IdentityRejected,
    IdentityVerified,
    NominationSubmitted,
    RegistryPersonUpdated,
    new_envelope,
)
from shared.service import Runtime
from tests import signed
from tests.integration import enrolment_support
from tests.integration.test_verification_handler import (
    CLEAN,
    DECEASED,
    INACTIVE,
    LATER,
    NOT_REGISTERED_NIK,
    PREFIX,
    TWICE,
    consumer_of,
    dsn,  # noqa: F401  (fixture)
    emitted,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    submitted,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SIM_PORT = int(os.environ.get("PAYUNG_TEST_DCI_SIM_PORT", "18901"))
SIM_URL = f"http://127.0.0.1:{SIM_PORT}"
PEOPLE = [CLEAN, DECEASED, INACTIVE, LATER, TWICE]
US, REGISTRY_ID = "payung.test", "civilregistry.test"
US_SEED, US_PUBLIC = dci.new_keypair()
SIM_SEED, SIM_PUBLIC = dci.new_keypair()


@dataclass(frozen=True)
class Simulator:
    url: str

    async def get(self, path: str) -> Any:
        async with httpx.AsyncClient() as client:
            return (await client.get(self.url + path)).json()

    async def post(self, path: str, body: Any) -> Any:
        async with httpx.AsyncClient() as client:
            return (await client.post(self.url + path, json=body)).json()


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """``python -m simulators.dci_registry`` as a process of its own, serving PEOPLE."""
    folder = tmp_path_factory.mktemp("dci")
    path = folder / "registry.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REGISTRY_COLUMNS)
        writer.writerows(p.row() for p in PEOPLE)
    env = {**os.environ, "PAYUNG_DCI_SIM_KEY": SIM_SEED,
           "PAYUNG_DCI_SIM_CLIENT_KEYS": json.dumps({f"{US}|1|ed25519": US_PUBLIC})}  # fmt: skip
    cmd = [sys.executable, "-m", "simulators.dci_registry", str(path), "--port", str(SIM_PORT),
           "--sender-id", REGISTRY_ID]  # fmt: skip
    with (folder / "simulator.log").open("w") as log:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):  # until it listens (a condition, polled)
            if procs.port_open("127.0.0.1", SIM_PORT) or process.poll() is not None:
                break
            time.sleep(0.05)
        assert process.poll() is None, (folder / "simulator.log").read_text()
        yield Simulator(SIM_URL)
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Callbacks:
    """Our side: the DCI callback routes served by uvicorn, and the adapter they feed."""

    url: str
    registry: DciRegistry
    deps: Deps  # the service's, with this registry; pending look-ups retried hourly


@pytest.fixture
async def ours(dsn: str, pool: asyncpg.Pool, request: pytest.FixtureRequest) -> AsyncIterator[Callbacks]:  # noqa: F811
    mode = getattr(request, "param", "async")
    app = FastAPI()
    app.include_router(dci_api.router)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: _started(server, task), "the callback server to listen", 20)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/dci/registry"
    config = DciConfig(SIM_URL, US, REGISTRY_ID, base, mode=mode, rate_per_s=1000, burst=100, attempts=2,
                       backoff_s=0.01, backoff_max_s=0.02, timeout_s=5)  # fmt: skip
    signer = dci.Signer.from_seed(US, "1", US_SEED)
    verifier = dci.Verifier.from_config({f"{REGISTRY_ID}|1|ed25519": SIM_PUBLIC})
    registry = DciRegistry(config, pool, signer, verifier)
    settings = VerificationSettings(database_url=dsn, kafka_bootstrap="unused:9092")
    # Only what the routes use: the callbacks need neither Kafka nor the relay.
    app.state.runtime = Runtime(settings, pool, relay=None, broker=None)  # type: ignore[arg-type]
    deps = make_deps(pool, registry, dci=registry, pending_retry_base_s=3600, pending_poll_s=3600)
    app.state.runtime.deps = deps
    try:
        yield Callbacks(base, registry, deps)
    finally:
        await registry.aclose()
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    assert not task.done(), "the callback server stopped"
    return server.started


def consumer(deps: Deps) -> Consumer[NominationSubmitted]:
    return consumer_of(deps, max_attempts=1)


async def outcome(pool: asyncpg.Pool, envelope: Any) -> str:  # noqa: F811
    return str(await pool.fetchval("SELECT outcome FROM verifications WHERE nomination_id = $1",
                                   envelope.payload.nomination_id))  # fmt: skip


async def answered(pool: asyncpg.Pool, count: int) -> bool:  # noqa: F811
    return bool(await pool.fetchval("SELECT count(*) FROM dci_searches WHERE answered_at IS NOT NULL") >= count)


async def post(url: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(url, json=body)


async def state_of(pool: asyncpg.Pool) -> dict[str, Any]:  # noqa: F811
    """Everything a callback may change."""
    return {
        table: await pool.fetchval(f"SELECT count(*) FROM {table}")
        for table in ("registry_cache", "dci_messages", "outbox", "announced_life_events", "pending_lookups")
    } | {"answered": await pool.fetchval("SELECT count(*) FROM dci_searches WHERE answered_at IS NOT NULL")}


async def assert_the_cover_ends(create_database: Any, dead: Any, alive: Any, event: Any) -> None:
    """Both people seated by the enrolment service; the published life event ends the dead one's seat only."""
    seats_dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, seats_dsn, ENROLMENT.migrations)
    settings = enrolment_support.make_settings(seats_dsn)
    seats = await db.create_pool(seats_dsn, 1, 4)
    try:
        await enrolment_support.sync(seats, settings)
        people = [verified_from(e) for e in (dead, alive)]
        await enrolment_support.enrol(seats, settings, people)
        assert [await enrolment_support.seat_status(seats, p) for p in people] == ["active", "active"]
        consumer = Consumer(
            name="enrolment.registry.person_updated",
            topic=settings.topic(topics.REGISTRY_PERSON_UPDATED),
            payload=RegistryPersonUpdated,
            handler=lambda conn, events: enrolment_ending.registry_person_updated(
                enrolment_support.deps_for(seats, settings), conn, events
            ),
            pool=seats,
            max_attempts=1,
            topic_prefix=settings.topic_prefix,
        )
        await consumer.process(enrolment_support.records(topics.REGISTRY_PERSON_UPDATED, [event]))
        assert [await enrolment_support.seat_status(seats, p) for p in people] == ["ended", "active"]
        end = await seats.fetchrow("SELECT coverage_end, end_reason FROM seats WHERE status = 'ended'")
        assert (end["coverage_end"], end["end_reason"]) == (date(2026, 11, 30), "deceased")
    finally:
        await seats.close()


def verified_from(submitted_event: Any) -> Any:
    """The identity.verified event verification would publish for this nomination (what enrolment seats)."""
    n = submitted_event.payload
    payload = IdentityVerified(
        nomination_id=n.nomination_id, nik=n.nik, full_name=n.full_name, birth_date=n.birth_date, sex=n.sex,
        phone=n.phone, desa_code=n.address.desa_code, occupation=n.occupation, nominator=n.nominator,
        programme_regency=n.programme_regency, name_score=100,
    )  # fmt: skip
    envelope = new_envelope(payload, producer="verification", person_key=submitted_event.person_key,
                            correlation_id=n.nomination_id)  # fmt: skip
    return signed.proven(envelope)  # with the nomination's submission proof, as verification passes it on


# ------------------------------------------------------------------------------------------------------ tests


async def test_an_async_search_waits_and_its_on_search_callback_resolves_the_pending_nominations(
    simulator,
    ours,
    pool,  # noqa: F811
):
    clean, dead = submitted(CLEAN), submitted(DECEASED)
    await consumer(ours.deps).process(records([clean, dead]))
    # Asked, not answered yet: both wait (pending, no event), scheduled an hour away.
    assert [await outcome(pool, e) for e in (clean, dead)] == ["pending", "pending"]

    # The service's retry job, polling only hourly: the callback makes them due and wakes it.
    retry = next(job for job in jobs(ours.deps) if job.name == "retry-pending-lookups")
    task = asyncio.create_task(retry.run())
    try:
        await wait_for(lambda: answered(pool, 2), "the on-search callback to be applied")

        async def decided() -> bool:
            return [await outcome(pool, e) for e in (clean, dead)] == ["verified", "rejected"]

        await wait_for(decided, "the woken retry task to decide both nominations")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    out = {env.correlation_id: env.payload for _t, _k, env in await emitted(pool)}
    assert isinstance(out[clean.payload.nomination_id], IdentityVerified)
    rejected = out[dead.payload.nomination_id]
    assert isinstance(rejected, IdentityRejected) and [r.code for r in rejected.reasons] == ["DECEASED"]
    # What went over the wire: signed, with purpose and consent, one reference per NIK.
    sent = await simulator.get("/_simulator/sent")
    callback = sent[-1]["body"]
    assert sent[-1]["status"] == 200 and callback["header"]["action"] == "on-search"
    assert callback["signature"].startswith('Signature: namespace="spdci"')
    before = (await simulator.get("/_simulator/stats"))["requests"]
    again = await ours.registry.lookup([CLEAN.nik, DECEASED.nik])  # the answers are cached: nothing is asked
    assert again.state(CLEAN.nik) == "match" and again.state(DECEASED.nik) == "deceased"
    assert (await simulator.get("/_simulator/stats"))["requests"] == before


async def test_an_unanswered_nik_is_not_asked_twice_while_its_callback_may_still_come(simulator, ours, pool):  # noqa: F811
    await simulator.post("/_simulator/faults", {"drop_callbacks": True})
    try:
        before = (await simulator.get("/_simulator/stats"))["requests"]
        first = await ours.registry.lookup([LATER.nik])
        second = await ours.registry.lookup([LATER.nik])
        assert first.state(LATER.nik) == second.state(LATER.nik) == "registry_unavailable"
        assert (await simulator.get("/_simulator/stats"))["requests"] == before + 1
    finally:
        await simulator.post("/_simulator/faults", {})


@pytest.mark.parametrize("ours", ["sync"], indirect=True)
async def test_a_sync_search_answers_every_state_in_one_signed_response(simulator, ours):
    niks = [CLEAN.nik, NOT_REGISTERED_NIK, DECEASED.nik, INACTIVE.nik]
    answer = await ours.registry.lookup(niks)
    assert [answer.state(n) for n in niks] == ["match", "no_match", "deceased", "inactive"]
    record = answer.records[CLEAN.nik]
    assert (record.full_name, record.birth_date, record.sex, record.kel_code) == (
        CLEAN.name, CLEAN.born, CLEAN.sex, CLEAN.kel_code)  # fmt: skip
    assert record.no_kk == CLEAN.nik[:6] + "0101220001"


@pytest.mark.parametrize("ours", ["sync"], indirect=True)
async def test_a_death_notification_ends_the_right_persons_cover_once(simulator, ours, pool, create_database):  # noqa: F811
    clean, later = submitted(CLEAN), submitted(LATER)
    await consumer(ours.deps).process(records([clean, later]))
    assert [await outcome(pool, e) for e in (clean, later)] == ["verified", "verified"]

    assert await dci_handlers.subscribe(ours.deps)
    active = "SELECT code FROM dci_subscriptions WHERE status = 'active'"
    assert await wait_for(lambda: pool.fetchval(active), "the on-subscribe callback")
    assert await dci_handlers.subscribe(ours.deps)  # already subscribed: nothing is asked again
    assert (await simulator.get("/_simulator/stats"))["subscriptions"] >= 1

    result = await simulator.post("/_simulator/deaths", {"niks": [CLEAN.nik], "date": "2026-11-30"})
    assert result["notifications"] >= 1
    updated = [e for _t, _k, e in await emitted(pool) if isinstance(e.payload, RegistryPersonUpdated)]
    assert len(updated) == 1
    event = updated[0].payload
    assert (event.nomination_id, event.change, event.effective_date) == (
        clean.payload.nomination_id, "deceased", date(2026, 11, 30))  # fmt: skip
    assert updated[0].person_key == clean.person_key
    topic = next(t for t, _k, e in await emitted(pool) if isinstance(e.payload, RegistryPersonUpdated))
    assert topic == PREFIX + topics.REGISTRY_PERSON_UPDATED
    await assert_the_cover_ends(create_database, clean, later, updated[0])
    # A later look-up of the dead person says deceased without asking; the same death reported again is no news.
    assert (await ours.registry.lookup([CLEAN.nik])).state(CLEAN.nik) == "deceased"
    await simulator.post("/_simulator/deaths", {"niks": [CLEAN.nik], "date": "2026-11-30"})
    assert len([e for _t, _k, e in await emitted(pool) if isinstance(e.payload, RegistryPersonUpdated)]) == 1


async def test_forged_replayed_and_unknown_callbacks_are_refused_and_change_nothing(simulator, ours, pool):  # noqa: F811
    await simulator.post("/_simulator/faults", {"drop_callbacks": True})  # we hold the genuine callback back
    try:
        waiting = submitted(TWICE)
        await consumer(ours.deps).process(records([waiting]))
    finally:
        await simulator.post("/_simulator/faults", {})
    transaction = await pool.fetchval("SELECT transaction_id FROM dci_searches")
    reference = await pool.fetchval("SELECT reference_id FROM dci_searches")
    registry_signer = dci.Signer.from_seed(REGISTRY_ID, "1", SIM_SEED)
    record = {"identifier_type": "UIN", "identifier": TWICE.nik, "name": {"given_name": TWICE.name}, "sex": "male",
              "birthdate": TWICE.born.isoformat(), "address": {"region_code": TWICE.kel_code},
              "deathdate": "2026-11-01"}  # fmt: skip
    message = {"transaction_id": transaction, "correlation_id": "c1",
               "search_response": [{"reference_id": reference, "timestamp": dci.timestamp(), "status": "succ",
                                    "data": {"reg_record_type": "spdci-extensions-dci:Person",
                                             "reg_records": [record]}}]}  # fmt: skip

    def header(action: str = "on-search") -> dict[str, Any]:
        return dci.callback_header(action, REGISTRY_ID, US, 1)

    genuine = registry_signer.envelope(header(), message)
    before = await state_of(pool)
    url = f"{ours.url}/on-search"
    # unsigned; signed by someone else under the registry's key id; tampered after signing; sender mismatch
    unsigned = {k: v for k, v in genuine.items() if k != "signature"}
    other_seed, _ = dci.new_keypair()
    impostor = dci.Signer.from_seed(REGISTRY_ID, "1", other_seed).envelope(header(), message)
    tampered = {**genuine, "message": {**message, "transaction_id": transaction + "x"}}
    alive = json.loads(json.dumps(genuine))
    del alive["message"]["search_response"][0]["data"]["reg_records"][0]["deathdate"]
    foreign = dci.Signer.from_seed("someone.else", "1", SIM_SEED).envelope(header(), message)
    for body in (unsigned, impostor, tampered, alive, foreign):
        response = await post(url, body)
        assert response.status_code == 401, response.text
        assert response.json()["message"]["ack_status"] == "ERR"
        assert response.json()["message"]["error"]["code"].startswith("err.signature")
    unknown = registry_signer.envelope(header(), {**message, "transaction_id": "never-asked"})
    assert (await post(url, unknown)).status_code == 422
    elsewhere = registry_signer.envelope(dci.callback_header("on-search", REGISTRY_ID, "another.agency", 1), message)
    assert (await post(url, elsewhere)).status_code == 400
    assert await state_of(pool) == before
    assert await outcome(pool, waiting) == "pending"

    accepted = await post(url, genuine)
    assert accepted.status_code == 200 and accepted.json()["message"]["ack_status"] == "ACK"
    assert (await ours.registry.lookup([TWICE.nik])).state(TWICE.nik) == "deceased"
    after = await state_of(pool)
    replay = await post(url, genuine)
    assert replay.status_code == 409 and replay.json()["message"]["error"]["code"] == "rjct.message_id.duplicate"
    assert await state_of(pool) == after

    # A notify forged for a verified person publishes nothing; the genuine one's replay publishes nothing again.
    notify = {"transaction_id": "n1", "notify_event": [{"reference_id": "r1", "timestamp": dci.timestamp(),
              "data": {"reg_record_type": "spdci-extensions-dci:Person", "reg_records": [record]}}]}  # fmt: skip
    forged = dci.Signer.from_seed(REGISTRY_ID, "1", other_seed).envelope(header("notify"), notify)
    assert (await post(f"{ours.url}/notify", forged)).status_code == 401
    real = registry_signer.envelope(header("notify"), notify)
    assert (await post(f"{ours.url}/notify", real)).status_code == 200
    settled = await state_of(pool)
    assert (await post(f"{ours.url}/notify", real)).status_code == 409
    assert await state_of(pool) == settled
