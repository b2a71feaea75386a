"""Channels against real local servers, and the dispatcher's retries through them against a real PostgreSQL.

The SMS gateway is an ASGI app of this module served by uvicorn on 127.0.0.1 (its answers are scripted per test);
the mail server is aiosmtpd. Nothing is mocked: requests cross real sockets.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.notification.adapters.channel import parse_retry_after
from services.notification.adapters.registry import open_channels
from services.notification.adapters.sms import SmsHttpChannel
from services.notification.adapters.smtp import EmailSmtpChannel
from services.notification.app import SPEC
from services.notification.bootstrap import Deps, jobs
from services.notification.domain.dispatch import DispatchPolicy, Message, RetryPolicy
from services.notification.domain.routes import ChannelPolicy
from services.notification.errors import SendFailed
from services.notification.handlers.dispatch import dispatch_once
from services.notification.settings import NotificationSettings
from shared import db, reasons
from shared.contracts import EnrolmentConfirmed, IdentityRejected, Nominator, Reason, decode, new_envelope
from tests.notification_deps import deps_for, handle

pytestmark = pytest.mark.integration

TOKEN = "gateway-test-token"
PREFIX = "t."
DESA = "64.08.01.2001"


# --- the SMS gateway ------------------------------------------------------------------------------------------------


@dataclass
class Gateway:
    """A scripted SMS gateway: answers ``script`` in order (then 200), records every request."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[tuple[int | str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)  # a "slow" answer waits for this

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/sms")
        async def send(request: Request) -> JSONResponse:
            self.requests.append({"headers": dict(request.headers), "json": await request.json()})
            status, headers, body = self.script.pop(0) if self.script else (200, {}, {})
            if status == "slow":
                await self.release.wait()
                status = 200
            assert isinstance(status, int)
            if status == 200 and not body:
                body = {"id": f"gw-{len(self.requests)}", "status": "accepted"}
            return JSONResponse(body, status_code=status, headers=headers)

        return app


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    gw.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/sms"
    server = uvicorn.Server(uvicorn.Config(gw.app(), lifespan="off", log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    yield gw
    gw.release.set()
    server.should_exit = True
    await serving
    sock.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        yield client


def sms(gateway: Gateway, client: httpx.AsyncClient, timeout_s: float = 5.0) -> SmsHttpChannel:
    return SmsHttpChannel(client, gateway.url, TOKEN, "PAYUNG", timeout_s=timeout_s)


def message(address: str = "081234567890", body: str = "Halo dari Payung") -> Message:
    return Message(uuid.uuid4(), address, "Subjek", body)


# --- SMS channel ----------------------------------------------------------------------------------------------------


async def test_sms_is_posted_with_bearer_token_sender_and_idempotency_key(
    gateway: Gateway, http: httpx.AsyncClient
) -> None:
    msg = message()
    accepted = await sms(gateway, http).send(msg)
    assert accepted.provider_message_id == "gw-1"
    [request] = gateway.requests
    assert request["json"] == {
        "to": "+6281234567890",
        "from": "PAYUNG",
        "text": msg.body,
        "reference": str(msg.delivery_id),
    }
    assert request["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["idempotency-key"] == str(msg.delivery_id)


@pytest.mark.parametrize(
    ("answer", "transient", "retry_after", "cause"),
    [
        ((500, {}, {"error": "internal"}), True, None, "gateway answered 500: internal"),
        ((503, {}, {}), True, None, "gateway answered 503"),
        ((429, {"Retry-After": "7"}, {"error": "rate limited"}), True, 7.0, "gateway answered 429: rate limited"),
        ((400, {}, {"error": "invalid destination +6281234567890"}), False, None, "gateway answered 400"),
        ((401, {}, {}), False, None, "gateway answered 401"),
    ],
)
async def test_sms_gateway_answers_are_sorted_into_transient_and_permanent(
    gateway: Gateway,
    http: httpx.AsyncClient,
    answer: tuple[int, dict[str, str], dict[str, Any]],
    transient: bool,
    retry_after: float | None,
    cause: str,
) -> None:
    gateway.script.append(answer)
    with pytest.raises(SendFailed) as caught:
        await sms(gateway, http).send(message())
    assert (caught.value.transient, caught.value.retry_after_s) == (transient, retry_after)
    assert caught.value.cause.startswith(cause)
    assert "81234567890" not in caught.value.cause  # the gateway echoed the number: it must not reach our records


async def test_a_slow_gateway_is_a_transient_timeout(gateway: Gateway, http: httpx.AsyncClient) -> None:
    gateway.script.append(("slow", {}, {}))
    started = time.monotonic()
    with pytest.raises(SendFailed, match="timeout") as caught:
        await sms(gateway, http, timeout_s=0.3).send(message())
    assert caught.value.transient and time.monotonic() - started < 3


async def test_an_unreachable_gateway_is_transient(http: httpx.AsyncClient) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    channel = SmsHttpChannel(http, f"http://127.0.0.1:{port}/v1/sms", TOKEN, "PAYUNG", timeout_s=2)
    with pytest.raises(SendFailed, match="unreachable") as caught:
        await channel.send(message())
    assert caught.value.transient


async def test_an_invalid_number_never_reaches_the_gateway(gateway: Gateway, http: httpx.AsyncClient) -> None:
    with pytest.raises(SendFailed, match="invalid phone number") as caught:
        await sms(gateway, http).send(message(address="0812"))
    assert not caught.value.transient and gateway.requests == []


def test_retry_after_as_seconds_or_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Tue, 01 Dec 2026 08:01:30 GMT", now) == 90
    assert parse_retry_after("Tue, 01 Dec 2026 07:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


async def test_only_configured_channels_are_opened(tmp_path: Path) -> None:
    base = {"database_url": "postgresql://unused/db", "kafka_bootstrap": "127.0.0.1:1"}
    local_file = tmp_path / "demo" / "messages.jsonl"
    async with open_channels(NotificationSettings(**base, local_outbox_file=local_file)) as channels:
        assert set(channels) == {"local"} and local_file.exists()
    production = NotificationSettings(
        **base, local_outbox_file=tmp_path / "never.jsonl", sms_gateway_url="http://127.0.0.1:9/v1/sms",
        sms_gateway_token=TOKEN, smtp_host="127.0.0.1",
    )  # fmt: skip
    async with open_channels(production) as channels:
        assert set(channels) == {"sms_http", "email_smtp"}
    assert not (tmp_path / "never.jsonl").exists()


# --- SMTP -----------------------------------------------------------------------------------------------------------


class MailHandler:
    """aiosmtpd handler: keeps what it receives, refuses recipients at ``refused.example``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.endswith("@refused.example"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted"


@pytest.fixture
def mail_server() -> Iterator[tuple[MailHandler, int]]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    handler = MailHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def smtp_settings(port: int, **extra: Any) -> NotificationSettings:
    fields: dict[str, Any] = {
        "database_url": "postgresql://unused/db", "kafka_bootstrap": "127.0.0.1:1", "smtp_host": "127.0.0.1",
        "smtp_port": port, "smtp_starttls": False, "smtp_from": "Payung <noreply@payung.test>", "smtp_timeout_s": 5,
    }  # fmt: skip
    return NotificationSettings(**{**fields, **extra})


async def test_email_is_delivered_with_subject_and_our_reference(mail_server: tuple[MailHandler, int]) -> None:
    handler, port = mail_server
    msg = message(address="rt05@desa.example", body="Usulan ref 1A2B3C4D tidak lolos verifikasi.")
    accepted = await EmailSmtpChannel(smtp_settings(port)).send(msg)
    [(sender, recipients, mail)] = handler.received
    assert (sender, recipients) == ("noreply@payung.test", ["rt05@desa.example"])
    assert mail["Subject"] == "Subjek" and mail["Message-ID"] == f"<{msg.delivery_id}@payung>"
    assert mail.get_payload(decode=True).decode().strip() == msg.body
    assert accepted.provider_message_id == f"<{msg.delivery_id}@payung>"


async def test_a_refused_recipient_fails_for_good(mail_server: tuple[MailHandler, int]) -> None:
    _, port = mail_server
    with pytest.raises(SendFailed, match="recipient refused") as caught:
        await EmailSmtpChannel(smtp_settings(port)).send(message(address="nobody@refused.example"))
    assert not caught.value.transient


async def test_an_unreachable_mail_server_is_transient() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(SendFailed, match="smtp unavailable") as caught:
        await EmailSmtpChannel(smtp_settings(port)).send(message(address="rt05@desa.example"))
    assert caught.value.transient


# --- the dispatcher's retries through the real gateway --------------------------------------------------------------


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


def settings_for(dsn: str, gateway: Gateway, tmp_path: Path, **extra: Any) -> NotificationSettings:
    return NotificationSettings(
        database_url=dsn, kafka_bootstrap="127.0.0.1:1", topic_prefix=PREFIX, local_outbox_file=tmp_path / "m.jsonl",
        sms_gateway_url=gateway.url, sms_gateway_token=TOKEN, **extra,
    )  # fmt: skip


def make_dispatcher(pool: asyncpg.Pool, settings: NotificationSettings, channels: Any, attempts: int = 3) -> Deps:
    policy = DispatchPolicy(
        shutdown_grace_s=5, retry=RetryPolicy(max_attempts=attempts, initial_s=0.01, max_s=600, jitter_s=0)
    )
    return deps_for(pool, settings, channels=channels, dispatch=policy, random_fraction=lambda: 0.0)


async def enrol(pool: asyncpg.Pool, policy: ChannelPolicy) -> uuid.UUID:
    """One EnrolmentConfirmed through the handler; returns the delivery id."""
    payload = EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD Kab. Kutai Timur",
        funding_source_name="APBD Kab. Kutai Timur",
        programme_year=2026, coverage_start=date(2026, 12, 1), full_name="Siti", phone="081234567890",
        desa_code=DESA, nominator=Nominator(type="rt", name="RT", region_code=DESA),
    )  # fmt: skip
    env = new_envelope(payload, producer="enrolment", person_key=uuid.uuid4().hex, correlation_id=payload.nomination_id)
    async with pool.acquire() as conn, conn.transaction():
        await handle(deps_for(pool, policy=policy), conn, [env])
    return await pool.fetchval("SELECT id FROM deliveries WHERE event_id = $1", env.event_id)


async def row(pool: asyncpg.Pool, delivery_id: uuid.UUID) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT *, extract(epoch FROM next_attempt_at - now()) AS due_in FROM deliveries WHERE id = $1", delivery_id
    )


async def events(pool: asyncpg.Pool) -> list[Any]:
    return [decode(v) for v in await pool.fetchval("SELECT coalesce(array_agg(value ORDER BY id), '{}') FROM outbox")]


async def dispatch_until_due(dispatcher: Deps) -> int:
    """Run rounds until one claims something (a rescheduled delivery becomes due after its short backoff)."""
    async with asyncio.timeout(5):
        while not (claimed := await dispatch_once(dispatcher)):  # noqa: ASYNC110 - a time in the database
            await asyncio.sleep(0.01)
    return claimed


SMS = ChannelPolicy(beneficiary="sms_http")


async def test_a_500_is_retried_and_the_same_delivery_id_is_sent_again(
    dsn: str, pool: asyncpg.Pool, gateway: Gateway, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool, SMS)
    gateway.script.append((500, {}, {"error": "upstream down"}))
    async with open_channels(settings_for(dsn, gateway, tmp_path)) as channels:
        dispatcher = make_dispatcher(pool, settings_for(dsn, gateway, tmp_path), channels)
        assert await dispatch_once(dispatcher) == 1
        first = await row(pool, delivery_id)
        assert (first["status"], first["attempts"], first["last_error"]) == (
            "pending",
            1,
            "gateway answered 500: upstream down",
        )
        assert await events(pool) == []
        await dispatch_until_due(dispatcher)

    done = await row(pool, delivery_id)
    assert (done["status"], done["attempts"], done["provider_message_id"], done["last_error"]) == (
        "sent",
        2,
        "gw-2",
        None,
    )
    assert [r["headers"]["idempotency-key"] for r in gateway.requests] == [str(delivery_id)] * 2
    [sent] = await events(pool)
    assert (sent.event_type, sent.payload.delivery_id, sent.payload.channel) == (
        "NotificationSent",
        delivery_id,
        "sms_http",
    )


async def test_a_429_waits_as_long_as_retry_after_says(
    dsn: str, pool: asyncpg.Pool, gateway: Gateway, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool, SMS)
    gateway.script.append((429, {"Retry-After": "120"}, {}))
    async with open_channels(settings_for(dsn, gateway, tmp_path)) as channels:
        dispatcher = make_dispatcher(pool, settings_for(dsn, gateway, tmp_path), channels)
        assert await dispatch_once(dispatcher) == 1
        assert await dispatch_once(dispatcher) == 0  # not due again before Retry-After
    after = await row(pool, delivery_id)
    assert (after["status"], after["attempts"]) == ("pending", 1)
    assert 110 < after["due_in"] <= 120


async def test_a_400_fails_at_once_and_is_reported(
    dsn: str, pool: asyncpg.Pool, gateway: Gateway, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool, SMS)
    gateway.script.append((400, {}, {"error": "unknown sender id"}))
    async with open_channels(settings_for(dsn, gateway, tmp_path)) as channels:
        assert await dispatch_once(make_dispatcher(pool, settings_for(dsn, gateway, tmp_path), channels)) == 1
    after = await row(pool, delivery_id)
    assert (after["status"], after["attempts"], after["next_attempt_at"]) == ("failed", 1, None)
    assert after["last_error"] == "gateway answered 400: unknown sender id"
    [failed] = await events(pool)
    assert (failed.event_type, failed.payload.reason, failed.payload.channel) == (
        "NotificationFailed", "gateway answered 400: unknown sender id", "sms_http"
    )  # fmt: skip


async def test_a_slow_gateway_is_retried_later(dsn: str, pool: asyncpg.Pool, gateway: Gateway, tmp_path: Path) -> None:
    delivery_id = await enrol(pool, SMS)
    gateway.script.append(("slow", {}, {}))
    settings = settings_for(dsn, gateway, tmp_path, sms_timeout_s=0.3)
    async with open_channels(settings) as channels:
        dispatcher = make_dispatcher(pool, settings, channels)
        assert await dispatch_once(dispatcher) == 1
        after = await row(pool, delivery_id)
        assert (after["status"], after["attempts"]) == ("pending", 1) and "timeout" in after["last_error"]
        await dispatch_until_due(dispatcher)
    assert (await row(pool, delivery_id))["status"] == "sent"


async def test_transient_failures_fail_the_delivery_once_the_attempts_run_out(
    dsn: str, pool: asyncpg.Pool, gateway: Gateway, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool, SMS)
    gateway.script += [(503, {}, {}), (503, {}, {})]
    async with open_channels(settings_for(dsn, gateway, tmp_path)) as channels:
        dispatcher = make_dispatcher(pool, settings_for(dsn, gateway, tmp_path), channels, attempts=2)
        await dispatch_once(dispatcher)
        await dispatch_until_due(dispatcher)
    after = await row(pool, delivery_id)
    assert (after["status"], after["attempts"]) == ("failed", 2)
    assert after["last_error"] == "gateway answered 503 (gave up after 2 attempts)"
    [failed] = await events(pool)
    assert failed.event_type == "NotificationFailed" and failed.payload.reason == after["last_error"]


async def test_shutdown_finishes_the_round_in_flight(
    dsn: str, pool: asyncpg.Pool, gateway: Gateway, tmp_path: Path
) -> None:
    delivery_id = await enrol(pool, SMS)
    gateway.script.append(("slow", {}, {}))
    async with open_channels(settings_for(dsn, gateway, tmp_path)) as channels:
        deps = make_dispatcher(pool, settings_for(dsn, gateway, tmp_path), channels)
        [job] = [j for j in jobs(deps) if j.name == "dispatcher"]  # the dispatch job, as the runtime starts it
        running = asyncio.create_task(job.run())
        async with asyncio.timeout(5):
            while not gateway.requests:  # noqa: ASYNC110 - the gateway has the message in hand
                await asyncio.sleep(0.01)
        running.cancel()  # what the service runtime does on SIGTERM
        await asyncio.sleep(0)
        assert not running.done()  # still waiting for the provider's answer
        gateway.release.set()
        with pytest.raises(asyncio.CancelledError):
            await running
        await deps.listener.close()
    assert (await row(pool, delivery_id))["status"] == "sent"
    assert [e.event_type for e in await events(pool)] == ["NotificationSent"]


async def test_a_rejection_reaches_the_nominator_by_email(
    dsn: str, pool: asyncpg.Pool, mail_server: tuple[MailHandler, int], tmp_path: Path
) -> None:
    handler, port = mail_server
    payload = IdentityRejected(
        nomination_id=uuid.uuid4(), reasons=(Reason(code="NIK_INVALID", detail="checksum"),),
        full_name="Siti Aminah", desa_code=DESA,
        nominator=Nominator(
            type="desa", name="Kades", region_code=DESA, phone="081298765432", email="kades@desa.example"
        ),
    )  # fmt: skip
    env = new_envelope(payload, producer="enrolment", person_key=uuid.uuid4().hex, correlation_id=payload.nomination_id)
    settings = smtp_settings(port, database_url=dsn, topic_prefix=PREFIX, local_outbox_file=tmp_path / "m.jsonl")
    policy = ChannelPolicy(smtp_configured=settings.smtp_configured)
    async with pool.acquire() as conn, conn.transaction():
        await handle(deps_for(pool, policy=policy), conn, [env])
    async with open_channels(settings) as channels:
        assert await dispatch_once(deps_for(pool, settings, channels=channels)) == 1
    [(_, recipients, mail)] = handler.received
    assert recipients == ["kades@desa.example"]
    assert mail["Subject"] == "Usulan BPJS Ketenagakerjaan tidak lolos verifikasi"
    assert reasons.fix_text("NIK_INVALID") in mail.get_payload(decode=True).decode().replace("\r\n", "\n")
    [sent] = await events(pool)
    assert (sent.payload.channel, sent.payload.recipient_role, sent.causation_id) == (
        "email_smtp",
        "nominator",
        env.event_id,
    )
