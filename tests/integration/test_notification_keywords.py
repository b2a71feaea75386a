"""Inbound keywords, replies, objection and lead messages, through the SMS gateway test server as a real process.

``python -m simulators.sms_gateway`` runs as a subprocess; it calls this service's webhook (served by uvicorn on a
real socket, against a real PostgreSQL) exactly as a gateway would, and the dispatcher sends replies back to it
over HTTP. Consumed events go through the ``outreach`` group's handler in a transaction with the outbox, as
``shared.consumer`` runs it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from services.notification import api
from services.notification.adapters.registry import open_channels
from services.notification.app import SPEC
from services.notification.domain import inbound, receipts
from services.notification.domain.routes import ChannelPolicy, Route
from services.notification.handlers import outreach
from services.notification.handlers.dispatch import dispatch_once
from services.notification.repository import digests as repository_digests
from services.notification.settings import NotificationSettings
from shared import db, outbox
from shared.contracts import (
    Envelope,
    InboundMessageAnswered,
    LeadReceived,
    Nominator,
    ObjectionFiled,
    ObjectionReviewed,
    Payload,
    SelfCheckStatus,
    decode,
    new_envelope,
)
from shared.http import install_error_format
from shared.service import Runtime
from tests.notification_deps import deps_for

pytestmark = pytest.mark.integration

PREFIX = "t."
SECRET = "inbound-webhook-secret"
TOKEN = "sms-gateway-token"
DESA = "64.08.01.2001"
PERSON = "+6281234567890"
OFFICIAL = "+6281298765432"
NOMINATOR = Nominator(type="desa", name="Kades", region_code=DESA, phone=OFFICIAL)
POLICY = ChannelPolicy(beneficiary=("sms_http",))
LIMIT = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def dsn(create_database: Callable[[str], Awaitable[str]]) -> str:
    url = await create_database("notification")
    await asyncio.to_thread(db.migrate, url, SPEC.migrations)
    return url


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, 1, 5)
    yield pool
    await pool.close()


@pytest.fixture
def api_port() -> int:
    return free_port()


@pytest.fixture
def gateway(api_port: int) -> Iterator[str]:
    """The SMS gateway test server as its own process, pointed at this test's webhook."""
    port = free_port()
    command = [sys.executable, "-m", "simulators.sms_gateway", "--port", str(port), "--webhook",
               f"http://127.0.0.1:{api_port}", "--secret", SECRET, "--token", TOKEN]  # fmt: skip
    process = subprocess.Popen(command, cwd=Path(__file__).parents[2], env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # until it accepts connections (a condition, bounded)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("the SMS gateway test server exited") from None
                subprocess.run([sys.executable, "-c", "import time; time.sleep(0.05)"], check=True)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def settings_for(dsn: str, tmp_path: Path, gateway: str, **extra: Any) -> NotificationSettings:
    fields: dict[str, Any] = dict(
        database_url=dsn, kafka_bootstrap="127.0.0.1:1", topic_prefix=PREFIX, webhook_secret=SECRET,
        local_outbox_file=tmp_path / "unused.jsonl", sms_gateway_url=f"{gateway}/v1/sms", sms_gateway_token=TOKEN,
        beneficiary_channel="sms_http", inbound_limit_per_hour=LIMIT, disnaker_contacts="64.09=+628115550009",
    )  # fmt: skip
    return NotificationSettings(**{**fields, **extra})


@pytest.fixture
async def webhook(pool: asyncpg.Pool, dsn: str, tmp_path: Path, gateway: str, api_port: int) -> AsyncIterator[str]:
    """This service's provider webhooks on a real socket (the port the gateway was told) and the test's database."""
    app = FastAPI()
    app.include_router(api.provider_webhooks)
    settings = settings_for(dsn, tmp_path, gateway)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None, deps=deps_for(pool, settings))  # type: ignore[arg-type]
    install_error_format(app)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", api_port))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{api_port}"
    server.should_exit = True
    await task
    sock.close()


async def inject(gateway: str, text: str, sender: str = PERSON, **extra: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20) as client:
        response = await client.post(f"{gateway}/v1/inject", json={"from": sender, "text": text, **extra})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def gateway_outbox(gateway: str, to: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        response = await client.get(f"{gateway}/v1/outbox", params={"to": to})
    assert response.status_code == 200
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def published(pool: asyncpg.Pool, event_type: str | None = None) -> list[tuple[str, Envelope[Any]]]:
    rows = await pool.fetch("SELECT key, value FROM outbox WHERE event_type <> 'DeadLetter' ORDER BY id")
    found = [(bytes(r["key"]).decode(), decode(r["value"])) for r in rows]
    return [(k, e) for k, e in found if event_type is None or e.event_type == event_type]


async def consume(pool: asyncpg.Pool, settings: NotificationSettings, *payloads: Payload, key: str = "k" * 32) -> None:
    """One batch of the ``outreach`` group, its events written to the outbox in the same transaction."""
    deps = deps_for(pool, settings, policy=POLICY)
    envelopes = [new_envelope(p, producer="nomination", person_key=key, correlation_id=uuid.uuid4()) for p in payloads]
    async with pool.acquire() as conn, conn.transaction():
        await outbox.add_events(conn, await outreach.handle(deps, conn, envelopes), PREFIX)


async def dispatch(pool: asyncpg.Pool, settings: NotificationSettings) -> None:
    async with open_channels(settings) as channels:
        await dispatch_once(deps_for(pool, settings, channels=channels, policy=POLICY))


# --- inbound --------------------------------------------------------------------------------------------------------


async def test_a_cek_sms_injected_at_the_gateway_becomes_one_inbound_message_event(
    webhook: str, gateway: str, pool: asyncpg.Pool
) -> None:
    answer = await inject(gateway, "  CEK 6408014708800001 07-08-1980 ", sender="0812-3456-7890")
    assert answer["status"] == 200 and answer["answer"]["inbound"] == 1
    [(key, env)] = await published(pool)
    assert env.event_type == "InboundMessageReceived" and env.producer == "notification"
    payload = env.payload
    assert (payload.channel, payload.phone, payload.text) == ("sms", PERSON, "CEK 6408014708800001 07-08-1980")
    assert payload.message_id == inbound.message_id("sms_http", answer["id"], PERSON, payload.text)
    assert env.correlation_id == payload.message_id
    assert key == env.person_key == inbound.phone_key(SECRET, PERSON) and "81234567890" not in key


async def test_a_whatsapp_message_injected_at_the_gateway_is_published_on_channel_whatsapp(
    webhook: str, gateway: str, pool: asyncpg.Pool
) -> None:
    await inject(gateway, "cek 6408014708800001 07081980", channel="whatsapp")
    [(_, env)] = await published(pool)
    assert (env.payload.channel, env.payload.phone) == ("whatsapp", PERSON)


async def test_a_replayed_webhook_publishes_nothing_twice(webhook: str, gateway: str, pool: asyncpg.Pool) -> None:
    first = await inject(gateway, "CEK 1 2", id="gw-replayed-1")
    again = await inject(gateway, "CEK 1 2", id="gw-replayed-1")
    assert (first["answer"]["inbound"], again["answer"]["inbound"]) == (1, 0)
    assert len(await published(pool)) == 1
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 1


async def test_stop_is_an_opt_out_not_an_inbound_message(webhook: str, gateway: str, pool: asyncpg.Pool) -> None:
    answer = await inject(gateway, "BERHENTI")
    assert (answer["answer"]["opt_outs"], answer["answer"]["inbound"]) == (1, 0)
    assert await published(pool) == []


async def test_a_flood_from_one_number_is_limited_other_numbers_are_not(
    webhook: str, gateway: str, pool: asyncpg.Pool
) -> None:
    answers = [await inject(gateway, f"CEK 64080147088000{n:02d} 07-08-1980") for n in range(LIMIT + 3)]
    assert [a["answer"]["inbound"] for a in answers] == [1] * LIMIT + [0] * 3
    other = await inject(gateway, "CEK 6408014708800001 07-08-1980", sender="+6281311112222")
    assert other["answer"]["inbound"] == 1
    assert len(await published(pool)) == LIMIT + 1
    # the limited ones are kept (a replay of them stays a replay), but hold no number and no text
    row = await pool.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE NOT published) AS limited FROM inbound_messages"
    )
    assert (row["n"], row["limited"]) == (LIMIT + 4, 3)
    columns = {r["column_name"] for r in await pool.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'inbound_messages'")}  # fmt: skip
    assert not columns & {"phone", "text", "address", "body"}


async def post_signed(url: str, raw: bytes, secret: str = SECRET) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        headers = {receipts.SIGNATURE_HEADER: receipts.sign(secret, raw), "Content-Type": "application/json"}
        return await client.post(url, content=raw, headers=headers)


async def test_a_forged_or_unsigned_inbound_webhook_is_401_and_stores_nothing(webhook: str, pool: asyncpg.Pool) -> None:
    raw = orjson.dumps({"id": "forged-1", "from": PERSON, "text": "CEK 6408014708800001 07-08-1980"})
    assert (await post_signed(f"{webhook}/v1/receipts/sms_http", raw, secret="guessed")).status_code == 401
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(f"{webhook}/v1/receipts/sms_http", content=raw)).status_code == 401
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0
    assert await published(pool) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        orjson.dumps({"id": "x", "from": PERSON, "text": "A" * 5000}),  # oversized text
        orjson.dumps({"id": "x", "from": PERSON, "text": "CEK\u0000"}),  # NUL
        orjson.dumps({"id": {"a": 1}, "from": PERSON, "text": "CEK"}),  # wrong type
    ],
)
async def test_a_signed_but_malformed_inbound_webhook_is_4xx_and_stores_nothing(
    webhook: str, pool: asyncpg.Pool, raw: bytes
) -> None:
    response = await post_signed(f"{webhook}/v1/receipts/sms_http", raw)
    assert response.status_code in (400, 422)
    assert PERSON not in response.text
    assert await pool.fetchval("SELECT count(*) FROM inbound_messages") == 0


async def test_an_unreadable_sender_is_not_published(webhook: str, gateway: str, pool: asyncpg.Pool) -> None:
    answer = await inject(gateway, "CEK 1 2", sender="12")
    assert answer["status"] == 200 and answer["answer"]["inbound"] == 0
    assert await published(pool) == []


# --- replies --------------------------------------------------------------------------------------------------------


async def test_an_answer_is_sent_back_to_the_number_on_its_channel_with_no_notification_event(
    webhook: str, gateway: str, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    settings = settings_for(dsn, tmp_path, gateway)
    status = SelfCheckStatus(state="covered", membership_number="12345678901", covered_since=date(2026, 9, 1))
    answer = InboundMessageAnswered(message_id=uuid.uuid4(), channel="sms", phone=PERSON, kind="status", status=status)
    await consume(pool, settings, answer)
    await consume(pool, settings, answer)  # the same answer republished under a new event id: one reply
    await dispatch(pool, settings)
    [sms] = await gateway_outbox(gateway, PERSON)
    assert "KPJ 12345678901" in sms["text"] and "1 September 2026" in sms["text"]
    row = await pool.fetchrow("SELECT status, purpose, nomination_id FROM deliveries")
    assert (row["status"], row["purpose"], row["nomination_id"]) == ("sent", "inbound_reply", answer.message_id)
    assert await published(pool) == []  # nomination's fold never sees a reply


# --- objections -----------------------------------------------------------------------------------------------------

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def objection(**extra: Any) -> dict[str, Any]:
    return dict(
        objection_id=uuid.uuid4(), nomination_id=uuid.uuid4(), ground="rejected", reason_code="data_corrected",
        filed_at=NOW, full_name="Siti Aminah", phone=PERSON, desa_code=DESA, nominator=NOMINATOR, **extra,
    )  # fmt: skip


async def test_a_filed_and_a_dismissed_objection_are_told_to_the_person_and_the_nominator(
    webhook: str, gateway: str, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    settings = settings_for(dsn, tmp_path, gateway)
    common = objection()
    filed = ObjectionFiled(**common, filed_by="beneficiary", channel="sms", due_by=date(2026, 9, 15))
    in_review = ObjectionReviewed(**common, state="in_review", reviewed_at=NOW)
    dismissed = ObjectionReviewed(**common, state="dismissed", note="Data sudah benar", reviewed_at=NOW)
    await consume(pool, settings, filed)
    await consume(pool, settings, in_review)
    await consume(pool, settings, dismissed)
    await dispatch(pool, settings)
    reference = common["objection_id"].hex[:8].upper()
    for number in (PERSON, OFFICIAL):
        received, decided = await gateway_outbox(gateway, number)
        assert reference in received["text"] and "15 September 2026" in received["text"]
        assert "DITOLAK" in decided["text"] and "Data sudah benar" in decided["text"] and "Ombudsman" in decided["text"]
    assert "Siti Aminah" in (await gateway_outbox(gateway, OFFICIAL))[0]["text"]
    sent = sorted((e.payload.purpose, e.payload.recipient_role) for _, e in await published(pool, "NotificationSent"))
    assert sent == [
        ("objection_decided", "beneficiary"), ("objection_decided", "nominator"),
        ("objection_received", "beneficiary"), ("objection_received", "nominator"),
    ]  # fmt: skip
    assert all(e.payload.nomination_id == common["nomination_id"] for _, e in await published(pool))


# --- leads ----------------------------------------------------------------------------------------------------------


def lead(desa: str = DESA) -> LeadReceived:
    return LeadReceived(
        lead_id=uuid.uuid4(), desa_code=desa, full_name="Budi Santoso", phone="+6281311112222", occupation="nelayan",
        channel="sms", received_at=NOW,
    )  # fmt: skip


async def test_a_lead_reaches_the_desas_official_and_a_desa_without_one_its_disnaker(
    webhook: str, gateway: str, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    settings = settings_for(dsn, tmp_path, gateway)
    async with pool.acquire() as conn:
        await repository_digests.remember_officials(conn, [(DESA, [Route("sms_http", OFFICIAL)])])
    await consume(pool, settings, lead())
    await consume(pool, settings, lead("64.09.01.2001"))  # PPU: no official known, Disnaker PPU is configured
    await consume(pool, settings, lead("64.03.01.2001"))  # Berau: nobody to tell (counted, nothing stored)
    await dispatch(pool, settings)
    [to_official] = await gateway_outbox(gateway, OFFICIAL)
    assert "Budi Santoso" in to_official["text"] and "+6281311112222" in to_official["text"]
    assert "Nelayan" in to_official["text"]
    [to_disnaker] = await gateway_outbox(gateway, "+628115550009")
    assert "Budi Santoso" in to_disnaker["text"]
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE purpose = 'lead_notice'") == 2
    assert await published(pool) == []


async def test_an_answer_to_an_unusable_number_fails_at_once_and_emits_nothing(
    webhook: str, gateway: str, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    settings = settings_for(dsn, tmp_path, gateway)
    await consume(
        pool, settings, InboundMessageAnswered(message_id=uuid.uuid4(), channel="sms", phone="12", kind="help")
    )
    await dispatch(pool, settings)
    row = await pool.fetchrow("SELECT status, last_error FROM deliveries")
    assert row["status"] == "failed" and row["last_error"]
    assert await published(pool) == [] and await gateway_outbox(gateway, "12") == []


async def test_a_whatsapp_message_is_answered_on_whatsapp_with_the_whole_text(
    webhook: str, gateway: str, pool: asyncpg.Pool, dsn: str, tmp_path: Path
) -> None:
    settings = settings_for(
        dsn, tmp_path, gateway, whatsapp_api_url=f"{gateway}/v21.0", whatsapp_phone_number_id="100200300",
        whatsapp_token=TOKEN,
    )  # fmt: skip
    await inject(gateway, "DAFTAR Budi, Sangatta Selatan, nelayan", channel="whatsapp")
    [(key, received)] = await published(pool)
    answer = InboundMessageAnswered(
        message_id=received.payload.message_id, channel="whatsapp", phone=received.payload.phone, kind="lead_received"
    )
    await consume(pool, settings, answer, key=key)
    await dispatch(pool, settings)
    [reply] = await gateway_outbox(gateway, PERSON)
    assert (reply["channel"], reply["template"]) == ("whatsapp", "payung_inbound_reply_v1")
    assert "permintaan Anda diterima" in reply["params"][0]
