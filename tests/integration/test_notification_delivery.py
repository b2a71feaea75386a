"""WhatsApp, fallback to SMS, receipts by webhook, opt-outs and quiet hours, against real local servers.

Three servers run on 127.0.0.1 with uvicorn: a WhatsApp Cloud API stand-in, an SMS gateway stand-in (both scripted
per test) and this service's own webhook API on a real PostgreSQL. The providers can call the webhook BEFORE they
answer the send call, the way a fast provider's receipt can overtake its own HTTP answer.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.notification import api
from services.notification.adapters.registry import open_channels
from services.notification.adapters.whatsapp import WhatsAppChannel
from services.notification.app import SPEC
from services.notification.bootstrap import Deps
from services.notification.domain import receipts
from services.notification.domain.dispatch import DispatchPolicy, Message, RetryPolicy
from services.notification.domain.routes import ChannelPolicy
from services.notification.domain.schedule import WITA, SendWindow
from services.notification.errors import SendFailed
from services.notification.handlers.dispatch import dispatch_once
from services.notification.settings import NotificationSettings
from shared import db
from shared.contracts import EnrolmentConfirmed, Nominator, decode, new_envelope
from shared.http import install_error_format
from shared.service import Runtime
from tests.notification_deps import deps_for, handle
from tests.operator import OPERATOR, OPERATOR_HEADERS, authenticate_operator

pytestmark = pytest.mark.integration

PREFIX = "t."
DESA = "64.08.01.2001"
TOKEN = "provider-token"
SECRET = "webhook-secret"
PHONE_NUMBER_ID = "1098765"
Script = list[tuple[int | str, dict[str, str], dict[str, Any]]]


async def serve(app: FastAPI) -> tuple[str, uvicorn.Server, asyncio.Task[None], socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, task, sock


@dataclass
class Provider:
    """A scripted provider: answers ``script`` in order (then success), records requests, may call ``on_send``
    with the message id it is about to return before answering (a receipt overtaking the answer)."""

    kind: str  # "whatsapp" | "sms"
    base: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: Script = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    on_send: Callable[[str], Awaitable[None]] | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        async def send(request: Request) -> JSONResponse:
            self.requests.append({"headers": dict(request.headers), "json": await request.json()})
            status, headers, body = self.script.pop(0) if self.script else (200, {}, {})
            if status == "slow":
                await self.release.wait()
                status = 200
            assert isinstance(status, int)
            if status == 200 and not body:
                message_id = f"{'wamid.' if self.kind == 'whatsapp' else 'gw-'}{uuid.uuid4().hex[:12]}"
                if self.on_send is not None:
                    await self.on_send(message_id)
                body = {"messages": [{"id": message_id}]} if self.kind == "whatsapp" else {"id": message_id}
            return JSONResponse(body, status_code=status, headers=headers)

        app.post("/v21.0/{phone_number_id}/messages")(send)
        app.post("/v1/sms")(send)
        return app


@pytest.fixture
async def servers() -> AsyncIterator[list[Any]]:
    running: list[Any] = []
    yield running
    for _, server, task, sock in running:
        server.should_exit = True
        await task
        sock.close()


async def start_provider(servers: list[Any], kind: str) -> Provider:
    provider = Provider(kind)
    served = await serve(provider.app())
    servers.append(served)
    provider.base = served[0]
    return provider


@pytest.fixture
async def whatsapp(servers: list[Any]) -> AsyncIterator[Provider]:
    provider = await start_provider(servers, "whatsapp")
    yield provider
    provider.release.set()


@pytest.fixture
async def sms(servers: list[Any]) -> AsyncIterator[Provider]:
    provider = await start_provider(servers, "sms")
    yield provider
    provider.release.set()


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


def settings_for(dsn: str, whatsapp: Provider, sms: Provider, tmp_path: Path, **extra: Any) -> NotificationSettings:
    fields: dict[str, Any] = dict(
        database_url=dsn, kafka_bootstrap="127.0.0.1:1", topic_prefix=PREFIX, local_outbox_file=tmp_path / "m.jsonl",
        whatsapp_api_url=f"{whatsapp.base}/v21.0", whatsapp_phone_number_id=PHONE_NUMBER_ID, whatsapp_token=TOKEN,
        sms_gateway_url=f"{sms.base}/v1/sms", sms_gateway_token=TOKEN, webhook_secret=SECRET,
        beneficiary_channels="whatsapp,sms_http",
    )  # fmt: skip
    return NotificationSettings(**{**fields, **extra})


@pytest.fixture
async def webhook(servers: list[Any], pool: asyncpg.Pool, dsn: str, tmp_path: Path) -> str:
    """This service's HTTP API (deliveries, receipts, opt-outs) on a real socket and the test's database."""
    app = FastAPI()
    app.include_router(api.router)
    app.include_router(api.webhooks)
    app.include_router(api.provider_webhooks)
    settings = NotificationSettings(
        database_url=dsn, kafka_bootstrap="127.0.0.1:1", topic_prefix=PREFIX, webhook_secret=SECRET,
        local_outbox_file=tmp_path / "unused.jsonl",
    )  # fmt: skip
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None, deps=deps_for(pool, settings))  # type: ignore[arg-type]
    authenticate_operator(app)
    install_error_format(app)
    served = await serve(app)
    servers.append(served)
    return served[0]


def dispatcher(
    pool: asyncpg.Pool, channels: Any, now: Callable[[], datetime] = lambda: datetime.now(UTC), **config: Any
) -> Deps:
    policy = DispatchPolicy(
        shutdown_grace_s=5, retry=RetryPolicy(max_attempts=3, initial_s=0.01, max_s=600, jitter_s=0), **config
    )
    return deps_for(pool, channels=channels, dispatch=policy, random_fraction=lambda: 0.0, now=now)


POLICY = ChannelPolicy(beneficiary=("whatsapp", "sms_http"))


async def enrol(pool: asyncpg.Pool, phone: str = "081234567890", policy: ChannelPolicy = POLICY) -> uuid.UUID:
    payload = EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone=phone, desa_code=DESA,
        nominator=Nominator(type="rt", name="RT", region_code=DESA, phone="081298765432"),
    )  # fmt: skip
    env = new_envelope(payload, producer="enrolment", person_key=uuid.uuid4().hex, correlation_id=payload.nomination_id)
    async with pool.acquire() as conn, conn.transaction():
        await handle(deps_for(pool, policy=policy), conn, [env])
    return await pool.fetchval(
        "SELECT id FROM deliveries WHERE event_id = $1 AND recipient_role = 'beneficiary'", env.event_id
    )


async def row(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM deliveries WHERE id = $1", delivery_id)


async def history(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT channel, outcome FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id", delivery_id
    )
    return [(r["channel"], r["outcome"]) for r in rows]


async def events(pool: asyncpg.Pool) -> list[Any]:
    return [decode(v) for v in await pool.fetchval("SELECT coalesce(array_agg(value ORDER BY id), '{}') FROM outbox")]


async def post_signed(url: str, body: Any, secret: str = SECRET) -> httpx.Response:
    raw = orjson.dumps(body)
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(
            url, content=raw, headers={receipts.SIGNATURE_HEADER: receipts.sign(secret, raw),
                                       "Content-Type": "application/json"},
        )  # fmt: skip


def wa_status(message_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"entry": [{"changes": [{"value": {"statuses": [{"id": message_id, "status": status, **extra}]}}]}]}


# --- the WhatsApp channel -------------------------------------------------------------------------------------------


def wa_channel(provider: Provider, client: httpx.AsyncClient) -> WhatsAppChannel:
    return WhatsAppChannel(client, f"{provider.base}/v21.0", PHONE_NUMBER_ID, TOKEN, "id", timeout_s=5)


def wa_message(address: str = "081234567890") -> Message:
    return Message(
        uuid.uuid4(), address, "Subjek", "teks", whatsapp_template="payung_enrolment_confirmed_v1",
        parameters=("1 Desember 2026", "APBD Kab. Kutai Timur"),
    )  # fmt: skip


async def test_a_template_message_is_posted_to_the_phone_number_id_with_a_bearer_token(whatsapp: Provider) -> None:
    msg = wa_message()
    async with httpx.AsyncClient() as client:
        accepted = await wa_channel(whatsapp, client).send(msg)
    [request] = whatsapp.requests
    assert accepted.provider_message_id and accepted.provider_message_id.startswith("wamid.")
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["json"] == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "6281234567890", "type": "template",
        "biz_opaque_callback_data": str(msg.delivery_id),
        "template": {"name": "payung_enrolment_confirmed_v1", "language": {"code": "id"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "1 Desember 2026"},
                                            {"type": "text", "text": "APBD Kab. Kutai Timur"}]}]},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "transient", "retry_after", "cause"),
    [
        ((429, {"Retry-After": "3"}, {"error": {"code": 130429, "message": "Rate limit hit"}}), True, 3.0,
         "whatsapp answered 429 (130429: Rate limit hit)"),
        ((500, {}, {}), True, None, "whatsapp answered 500"),
        ((400, {}, {"error": {"code": 131048, "message": "Spam rate limit hit"}}), True, None,
         "whatsapp answered 400 (131048"),
        ((400, {}, {"error": {"code": 131026, "message": "Message undeliverable"}}), False, None,
         "not a whatsapp user (131026)"),
        ((400, {}, {"error": {"code": 132001, "message": "Template name does not exist in the translation"}}),
         False, None, "whatsapp answered 400 (132001"),
        ((401, {}, {"error": {"code": 190, "message": "Invalid OAuth access token"}}), False, None,
         "whatsapp answered 401 (190"),
    ],
)  # fmt: skip
async def test_whatsapp_errors_are_sorted_into_transient_permanent_and_not_on_whatsapp(
    whatsapp: Provider, answer: Any, transient: bool, retry_after: float | None, cause: str
) -> None:
    whatsapp.script.append(answer)
    async with httpx.AsyncClient() as client:
        with pytest.raises(SendFailed) as caught:
            await wa_channel(whatsapp, client).send(wa_message())
    assert (caught.value.transient, caught.value.retry_after_s) == (transient, retry_after)
    assert caught.value.cause.startswith(cause), caught.value.cause


async def test_a_slow_whatsapp_answer_is_a_transient_timeout(whatsapp: Provider) -> None:
    whatsapp.script.append(("slow", {}, {}))
    async with httpx.AsyncClient() as client:
        channel = WhatsAppChannel(client, f"{whatsapp.base}/v21.0", PHONE_NUMBER_ID, TOKEN, "id", timeout_s=0.3)
        with pytest.raises(SendFailed, match="timeout") as caught:
            await channel.send(wa_message())
    assert caught.value.transient


# --- fallback through the dispatcher --------------------------------------------------------------------------------


async def test_not_a_whatsapp_user_falls_back_to_sms_with_the_short_text(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool)
    whatsapp.script.append((400, {}, {"error": {"code": 131026, "message": "Message undeliverable"}}))
    async with open_channels(settings_for(dsn, whatsapp, sms, tmp_path)) as channels:
        d = dispatcher(pool, channels)
        assert await dispatch_once(d) == 1
        moved = await row(pool, delivery_id)
        assert (moved["status"], moved["channel"], moved["route_index"], moved["attempts"]) == (
            "pending", "sms_http", 1, 0
        )  # fmt: skip
        assert moved["last_error"] == "not a whatsapp user (131026)"
        assert await events(pool) == []  # not an outcome yet
        assert await dispatch_once(d) == 1
    done = await row(pool, delivery_id)
    assert (done["status"], done["channel"]) == ("sent", "sms_http")
    [wa_request] = whatsapp.requests
    assert wa_request["json"]["template"]["name"] == "payung_enrolment_confirmed_v1"
    [sms_request] = sms.requests
    assert sms_request["json"]["text"] == done["body"] and len(done["body"]) <= 160  # the SMS form
    assert sms_request["headers"]["idempotency-key"] == str(delivery_id)
    assert await history(pool, delivery_id) == [("whatsapp", "fallback"), ("sms_http", "sent")]
    [sent] = await events(pool)
    assert (sent.event_type, sent.payload.channel) == ("NotificationSent", "sms_http")


async def test_only_the_last_channels_permanent_failure_fails_the_delivery(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool)
    whatsapp.script.append((400, {}, {"error": {"code": 131026, "message": "Message undeliverable"}}))
    sms.script.append((400, {}, {"error": "unknown destination"}))
    async with open_channels(settings_for(dsn, whatsapp, sms, tmp_path)) as channels:
        d = dispatcher(pool, channels)
        await dispatch_once(d)
        await dispatch_once(d)
    failed = await row(pool, delivery_id)
    assert (failed["status"], failed["last_error"]) == ("failed", "gateway answered 400: unknown destination")
    assert await history(pool, delivery_id) == [("whatsapp", "fallback"), ("sms_http", "failed")]
    [event] = await events(pool)
    assert (event.event_type, event.payload.channel, event.payload.reason) == (
        "NotificationFailed", "sms_http", "gateway answered 400: unknown destination"
    )  # fmt: skip


async def test_a_whatsapp_outage_is_retried_on_whatsapp_not_moved_to_sms(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool)
    whatsapp.script.append((503, {}, {}))
    async with open_channels(settings_for(dsn, whatsapp, sms, tmp_path)) as channels:
        d = dispatcher(pool, channels)
        await dispatch_once(d)
        async with asyncio.timeout(10):
            while (await row(pool, delivery_id))["status"] != "sent":
                await dispatch_once(d)
                await asyncio.sleep(0.01)
    assert len(whatsapp.requests) == 2 and sms.requests == []
    assert await history(pool, delivery_id) == [("whatsapp", "retry"), ("whatsapp", "sent")]


# --- receipts -------------------------------------------------------------------------------------------------------


async def test_receipts_arriving_before_the_send_call_returns_are_not_lost(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path, webhook: str
) -> None:
    delivery_id = await enrol(pool)
    answers: list[dict[str, Any]] = []

    async def early_receipts(message_id: str) -> None:
        # The provider reports delivered and read, out of order and twice, before answering the send call.
        for status in ("read", "delivered", "read"):
            response = await post_signed(f"{webhook}/v1/receipts/whatsapp", wa_status(message_id, status))
            answers.append(response.json())
        assert (await row(pool, delivery_id))["status"] == "sending"  # nothing to apply them to yet

    whatsapp.on_send = early_receipts
    async with open_channels(settings_for(dsn, whatsapp, sms, tmp_path)) as channels:
        await dispatch_once(dispatcher(pool, channels))
    done = await row(pool, delivery_id)
    assert done["status"] == "read" and done["delivered_at"] and done["read_at"]
    assert [a["new"] for a in answers] == [1, 1, 0]  # the repeated receipt is stored once
    assert [e.event_type for e in await events(pool)] == ["NotificationSent"]


async def test_a_failed_receipt_after_sending_fails_the_delivery_visibly_and_an_operator_can_retry(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path, webhook: str
) -> None:
    delivery_id = await enrol(pool, policy=ChannelPolicy(beneficiary="sms_http"))
    settings = settings_for(dsn, whatsapp, sms, tmp_path, beneficiary_channels="sms_http")
    async with open_channels(settings) as channels:
        await dispatch_once(dispatcher(pool, channels))
    message_id = (await row(pool, delivery_id))["provider_message_id"]
    dlr = [{"id": message_id, "status": "UNDELIV", "error": "absent subscriber +6281234567890"}]
    response = await post_signed(f"{webhook}/v1/receipts/sms_http", dlr)
    assert response.status_code == 200 and response.json()["applied"] == 1
    async with httpx.AsyncClient(timeout=10, headers=OPERATOR_HEADERS) as client:
        listed = (await client.get(f"{webhook}/v1/deliveries", params={"status": "failed"})).json()
        [view] = listed["deliveries"]
        assert (view["id"], view["last_error"]) == (str(delivery_id), "gateway reported absent subscriber [masked]")
        assert view["address"] == "+62812****890"
        assert (await client.post(f"{webhook}/v1/deliveries/{delivery_id}/retry")).status_code == 202
    assert (await row(pool, delivery_id))["status"] == "pending"
    assert [e.event_type for e in await events(pool)] == ["NotificationSent", "NotificationFailed"]


async def test_unsigned_or_badly_signed_webhooks_are_refused(webhook: str, pool: asyncpg.Pool) -> None:
    body = [{"id": "gw-1", "status": "DELIVRD"}]
    assert (await post_signed(f"{webhook}/v1/receipts/sms_http", body, secret="guess")).status_code == 401
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.post(f"{webhook}/v1/receipts/sms_http", json=body)).status_code == 401
    assert await pool.fetchval("SELECT count(*) FROM receipts") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"entry": [1]},
        {"entry": "x"},
        {"entry": [{"changes": [{"value": {"statuses": [{"id": {"a": 1}, "status": "read"}]}}]}]},
        {"entry": [{"changes": [{"value": {"statuses": [{"id": "wamid.\u0000x", "status": "read"}]}}]}]},
        {"entry": [{"changes": [{"value": {"statuses": [{"id": "w", "status": "failed", "errors": ["x"]}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": [{"from": "62812", "text": "STOP"}]}}]}]},
        {"entry": [{"changes": [{"value": {"messages": [{"from": ["62812"], "text": {"body": "STOP"}}]}}]}]},
    ],
    ids=["entry of numbers", "entry a string", "id an object", "NUL in id", "errors of strings", "text a string",
         "sender a list"],
)  # fmt: skip
async def test_a_correctly_signed_but_malformed_webhook_gets_422(webhook: str, pool: asyncpg.Pool, body: Any) -> None:
    """Each of these answered 500 (AttributeError, TypeError, PostgreSQL refusing NUL)."""
    response = await post_signed(f"{webhook}/v1/receipts/whatsapp", body)
    assert (response.status_code, response.json()["code"]) == (422, "INVALID_REQUEST"), response.text
    assert await pool.fetchval("SELECT count(*) FROM receipts") == 0


async def test_a_non_ascii_signature_header_is_a_bad_signature(webhook: str) -> None:
    raw = b"{}"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            f"{webhook}/v1/receipts/whatsapp",
            content=raw,
            headers={receipts.SIGNATURE_HEADER: "sha256=\u00e9".encode("latin-1")},
        )
    assert response.status_code == 401, response.text


async def test_operator_reads_and_actions_are_audited_with_the_caller(webhook: str, pool: asyncpg.Pool) -> None:
    async with httpx.AsyncClient(timeout=10, headers=OPERATOR_HEADERS) as client:
        assert (await client.get(f"{webhook}/v1/deliveries", params={"status": "failed"})).status_code == 200
        assert (await client.post(f"{webhook}/v1/opt-outs", json={"phone": "0812-3456-7890"})).status_code == 201
    rows = await pool.fetch("SELECT principal, action FROM audit_log ORDER BY id")
    assert [(r["principal"], r["action"]) for r in rows] == [
        (OPERATOR, "deliveries.listed"),
        (OPERATOR, "opt_out.recorded"),
    ]


# --- opt-out --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["api", "inbound_stop"])
async def test_an_opted_out_number_gets_nothing_more(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path, webhook: str, how: str
) -> None:
    async with httpx.AsyncClient(timeout=10, headers=OPERATOR_HEADERS) as client:
        if how == "api":
            response = await client.post(f"{webhook}/v1/opt-outs", json={"phone": "0812-3456-7890"})
            assert response.status_code == 201 and response.json()["new"] is True
        else:
            response = await post_signed(
                f"{webhook}/v1/receipts/sms_http", {"from": "6281234567890", "text": "BERHENTI"}
            )
            assert response.json()["opt_outs"] == 1
    delivery_id = await enrol(pool)
    async with open_channels(settings_for(dsn, whatsapp, sms, tmp_path)) as channels:
        d = dispatcher(pool, channels)
        await dispatch_once(d)  # WhatsApp: opted out -> next channel, the same number: opted out too
        await dispatch_once(d)
    failed = await row(pool, delivery_id)
    assert (failed["status"], failed["last_error"]) == ("failed", "opted_out")
    assert whatsapp.requests == [] and sms.requests == []
    [event] = await events(pool)
    assert (event.event_type, event.payload.reason) == ("NotificationFailed", "opted_out")


# --- quiet hours ----------------------------------------------------------------------------------------------------


async def test_no_sms_or_whatsapp_at_night_the_message_waits_for_the_morning(
    dsn: str, pool: asyncpg.Pool, whatsapp: Provider, sms: Provider, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool)
    night = datetime(2026, 12, 1, 21, 30, tzinfo=WITA)
    async with open_channels(settings_for(dsn, whatsapp, sms, tmp_path)) as channels:
        d = dispatcher(
            pool, channels, window=SendWindow(), quiet_channels=frozenset({"whatsapp", "sms_http"}), now=lambda: night
        )
        assert await dispatch_once(d) == 1
    waiting = await row(pool, delivery_id)
    assert (waiting["status"], waiting["attempts"], waiting["channel"]) == ("pending", 0, "whatsapp")
    assert waiting["next_attempt_at"] == datetime(2026, 12, 2, 8, 0, tzinfo=WITA)
    assert whatsapp.requests == [] and sms.requests == [] and await events(pool) == []
