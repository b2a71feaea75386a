"""The BPJS gateway adapters against real things: the HTTP client and the registrar against the BPJS simulator
served by uvicorn on 127.0.0.1, the batch file exchange with real CSV and XLSX files on disk."""

from __future__ import annotations

import asyncio
import csv
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from openpyxl import Workbook, load_workbook

from services.enrolment import domain
from services.enrolment.adapters.bpjs_files import RESPONSE_COLUMNS, ROSTER_COLUMNS
from services.enrolment.adapters.bpjs_http import HttpBpjsClient, HttpConfig
from services.enrolment.app import SPEC
from services.enrolment.domain import MembershipRequest, Refused, Registered
from services.enrolment.errors import BpjsUnavailable
from services.enrolment.handlers import files, registrar
from services.enrolment.settings import EnrolmentSettings
from shared import db, topics
from shared.contracts import encode
from shared.service import create_app
from simulators import bpjs as bpjs_simulator
from tests import signed
from tests.integration.enrolment_support import (
    deps_for,
    emitted,
    enrol,
    make_settings,
    nik,
    person_updated,
    seat_status,
    sync,
    used,
    verified,
)

pytestmark = pytest.mark.integration
TOKEN = "sim-token-0123"
REFUSED = nik(1)


@pytest.fixture
async def sim() -> AsyncIterator[tuple[bpjs_simulator.Simulator, str]]:
    """The simulator on a free local port, served by a real uvicorn."""
    simulator = bpjs_simulator.Simulator(TOKEN, refuse=[REFUSED])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(bpjs_simulator.create(simulator), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1500):  # polling until uvicorn listens (30 s at most)
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "the BPJS simulator did not start"
    yield simulator, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def pool(create_database: Any) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


def request(i: int) -> MembershipRequest:
    return MembershipRequest(
        nomination_id=uuid.uuid4(), nik=nik(i), full_name="Siti Aminah", birth_date=date(1980, 5, 17), sex="F",
        phone="+6281234567890", desa_code="64.09.04.2001", occupation="nelayan", funding_source="APBD-KAB",
        programme_year=2026, coverage_start=date(2026, 12, 1),
    )  # fmt: skip


def client(url: str, **kw: Any) -> HttpBpjsClient:
    config: dict[str, Any] = {"url": url, "token": TOKEN, "timeout_s": 5.0, "attempts": 3, "backoff_s": 0.01} | kw
    return HttpBpjsClient(HttpConfig(**config))


async def test_http_client_registers_refuses_retries_and_gives_up(sim: Any) -> None:
    simulator, url = sim
    c = client(url)
    try:
        ok, refused = request(0), request(1)
        (answer,) = await c.register([ok])
        assert isinstance(answer, Registered) and len(answer.membership_number) == 11
        assert await c.register([ok]) == [answer]  # same reference, same number
        assert await c.register([refused]) == [
            Refused(refused.nomination_id, "PU_ACTIVE", "Sudah terdaftar sebagai peserta Penerima Upah (simulator)")
        ]

        simulator.fail_next, before = 2, simulator.requests
        (third,) = await c.register([request(2)])  # 500, 500, then 200
        assert isinstance(third, Registered) and simulator.requests - before == 3

        simulator.fail_next = 3
        with pytest.raises(BpjsUnavailable, match="after 3 attempts: HTTP 500"):
            await c.register([request(3)])
    finally:
        await c.aclose()


async def test_http_client_times_out_and_rejects_bad_credentials(sim: Any) -> None:
    simulator, url = sim
    slow = client(url, timeout_s=0.2, attempts=2)
    wrong = HttpBpjsClient(HttpConfig(url=url, token="wrong", attempts=3, backoff_s=0.01))
    try:
        simulator.delay_s = 1.0
        with pytest.raises(BpjsUnavailable, match="ReadTimeout"):
            await slow.register([request(0)])
        simulator.delay_s = 0.0
        (answer,) = await slow.register([request(0)])
        assert isinstance(answer, Registered)
        before = simulator.requests
        with pytest.raises(BpjsUnavailable, match="credentials"):
            await wrong.register([request(4)])
        assert simulator.requests - before == 1  # no retry against a refused login
    finally:
        await slow.aclose()
        await wrong.aclose()


async def test_registrar_confirms_only_when_bpjs_answers_and_loses_nothing_in_an_outage(
    sim: Any, pool: asyncpg.Pool
) -> None:
    simulator, url = sim
    settings = make_settings("postgresql://unused/unused", bpjs_adapter="http", bpjs_token=TOKEN, bpjs_url=url,
                             bpjs_attempts=2, bpjs_backoff_s=0.01)  # fmt: skip
    await sync(pool, settings)
    people = [verified(i) for i in range(4)]  # people[1] is refused by BPJS; people[3] waits
    await enrol(pool, settings, people, local=False)
    assert [await seat_status(pool, p) for p in people] == ["pending_bpjs"] * 3 + [None]
    assert await emitted(pool, "EnrolmentConfirmed") == []  # nothing before BPJS confirms
    c = client(url, attempts=2)
    deps = deps_for(pool, settings, local=False)
    try:
        simulator.fail_next = 100  # BPJS is down
        assert await registrar.register_round(deps, c) == 3
        assert [await seat_status(pool, p) for p in people[:3]] == ["pending_bpjs"] * 3
        errors = await pool.fetch("SELECT bpjs_last_error, bpjs_attempts FROM seats")
        assert all(r["bpjs_last_error"] and r["bpjs_attempts"] == 1 for r in errors)
        assert await registrar.register_round(deps, c) == 0  # postponed, not due yet

        simulator.fail_next = 0
        await pool.execute("UPDATE seats SET bpjs_next_attempt = now()")  # the postponement is over
        assert await registrar.register_round(deps, c) == 3
        assert [await seat_status(pool, p) for p in people] == ["active", "refused", "active", "pending_bpjs"]
        assert await registrar.register_round(deps, c) == 1  # the promoted person
    finally:
        await c.aclose()

    assert await seat_status(pool, people[3]) == "active"
    confirmed = await emitted(pool, "EnrolmentConfirmed")
    assert [(e.payload.nomination_id, e.payload.promoted_from_waitlist) for e in confirmed] == [
        (people[0].payload.nomination_id, False),
        (people[2].payload.nomination_id, False),
        (people[3].payload.nomination_id, True),
    ]
    assert all(e.payload.membership_number.startswith("9") for e in confirmed)  # the simulator's numbers
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}
    # The refusal is an event, for the message to the nominator with BPJS's reason.
    [refused] = await emitted(pool, "EnrolmentRefused")
    assert (refused.payload.nomination_id, refused.payload.refusal_code) == (
        people[1].payload.nomination_id,
        "PU_ACTIVE",
    )
    assert refused.payload.refusal_reason.startswith("Sudah terdaftar sebagai peserta Penerima Upah")
    assert refused.payload.nominator == people[1].payload.nominator and refused.person_key == people[1].person_key
    refusal = await pool.fetchrow("SELECT bpjs_refusal_code, end_reason FROM seats WHERE status = 'refused'")
    assert dict(refusal) == {"bpjs_refusal_code": "PU_ACTIVE", "end_reason": "bpjs_refused"}
    issuers = await pool.fetch("SELECT DISTINCT membership_issuer FROM seats WHERE status = 'active'")
    assert [r["membership_issuer"] for r in issuers] == ["bpjs"]


async def test_roster_export_and_response_import_with_real_files(pool: asyncpg.Pool, tmp_path: Path) -> None:
    settings: EnrolmentSettings = make_settings("postgresql://unused/unused", bpjs_adapter="file")
    await sync(pool, settings)
    people = [verified(i) for i in range(4)]
    await enrol(pool, settings, people, local=False)
    deps = deps_for(pool, settings, local=False)
    month = domain.coverage_start(datetime.now(UTC)).strftime("%Y-%m")

    assert await files.export_roster(deps, month, "csv", tmp_path / "roster.csv") == 3
    assert await files.export_roster(deps, month, "xlsx", tmp_path / "roster.xlsx") == 3
    assert await files.export_roster(deps, "2020-01", "csv", tmp_path / "empty.csv") == 0
    with (tmp_path / "roster.csv").open(newline="", encoding="utf-8") as f:
        from_csv = list(csv.reader(f))
    wb = load_workbook(tmp_path / "roster.xlsx", read_only=True)
    from_xlsx = [[str(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    assert from_csv == from_xlsx  # the same roster, NIKs still text in Excel
    assert from_csv[0] == list(ROSTER_COLUMNS)
    assert [r[0] for r in from_csv[1:]] == [str(p.payload.nomination_id) for p in people[:3]]
    assert [r[2] for r in from_csv[1:]] == [p.payload.nik for p in people[:3]]

    refs = [str(p.payload.nomination_id) for p in people]
    response = Workbook()
    sheet = response.active
    sheet.append(list(RESPONSE_COLUMNS))
    sheet.append([refs[0], "registered", 12345678901, None, None])  # typed as a number in Excel
    sheet.append([refs[1], "refused", None, "NIK_INVALID", "NIK tidak ditemukan"])
    sheet.append(["garbage", "registered", "1", None, None])
    response.save(tmp_path / "response.xlsx")

    result, errors = await files.import_response(deps, tmp_path / "response.xlsx")
    assert (result.confirmed, result.refused, result.skipped, errors) == (
        1,
        1,
        [],
        ["row 4: reference is not a nomination id"],
    )
    assert [await seat_status(pool, p) for p in people] == ["active", "refused", "pending_bpjs", "pending_bpjs"]
    again, _ = await files.import_response(deps, tmp_path / "response.xlsx")
    assert (again.confirmed, again.refused, len(again.skipped)) == (0, 0, 2)  # already answered

    with (tmp_path / "response.csv").open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([RESPONSE_COLUMNS, [refs[2], "registered", "12345678902", "", ""],
                                 [refs[3], "registered", "12345678903", "", ""]])  # fmt: skip
    result, errors = await files.import_response(deps, tmp_path / "response.csv")
    assert (result.confirmed, errors) == (2, [])
    confirmed = await emitted(pool, "EnrolmentConfirmed")
    assert [(e.payload.membership_number, e.payload.promoted_from_waitlist) for e in confirmed] == [
        ("12345678901", False), ("12345678902", False), ("12345678903", True),
    ]  # fmt: skip
    assert await used(pool) == {"APBD-KAB": 2, "APBD-PROV": 1}


async def test_the_service_wired_for_http_confirms_through_the_registrar_and_follows_life_events(
    sim: Any, infra: Any, create_database: Any, topic_prefix: str
) -> None:
    _simulator, url = sim
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    settings = make_settings(
        dsn, kafka_bootstrap=infra.kafka_bootstrap, topic_prefix=topic_prefix, consumer_batch_timeout_ms=20,
        outbox_poll_interval_s=0.2, bpjs_adapter="http", bpjs_url=url, bpjs_token=TOKEN,
        bpjs_registrar_interval_s=0.1,
    )  # fmt: skip
    people = [verified(0), verified(2)]  # nik(1) is the one the simulator refuses
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            for env in people:
                await producer.send_and_wait(
                    settings.topic(topics.IDENTITY_VERIFIED),
                    encode(env),
                    key=env.person_key.encode(),
                    headers=signed.headers(settings.topic(topics.IDENTITY_VERIFIED), encode(env)),
                )

            async def confirmed_and_published() -> bool:
                active = await rt.pool.fetchval("SELECT count(*) FROM seats WHERE status = 'active'")
                return active == 2 and rt.relay.published == 2

            await poll(confirmed_and_published)
            death = person_updated(people[0], "deceased", date(2027, 1, 9))
            await producer.send_and_wait(
                settings.topic(topics.REGISTRY_PERSON_UPDATED),
                encode(death),
                key=death.person_key.encode(),
                headers=signed.headers(settings.topic(topics.REGISTRY_PERSON_UPDATED), encode(death)),
            )

            async def ended_and_published() -> bool:
                return await seat_status(rt.pool, people[0]) == "ended" and rt.relay.published == 3

            await poll(ended_and_published)
        finally:
            await producer.stop()


async def poll(check: Any, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)  # polling interval, not a wait for an outcome
