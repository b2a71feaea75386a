"""The member's card sent by WhatsApp against a local Cloud API stand-in (uvicorn on 127.0.0.1, real sockets) and a
real PostgreSQL: an EnrolmentConfirmed plans a ``membership_card`` delivery beside the confirmation; the dispatcher
renders the PDF, uploads it (``/media``) and sends the template with the media id as its document header. A phone
reached only by SMS gets no card message; a failed upload is sorted like a failed send."""

from __future__ import annotations

import asyncio
import io
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
import zxingcpp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pypdf import PdfReader

from services.notification.adapters import card
from services.notification.adapters.whatsapp import WhatsAppChannel
from services.notification.app import SPEC
from services.notification.domain.dispatch import Attachment, DispatchPolicy, Message
from services.notification.domain.routes import ChannelPolicy
from services.notification.errors import SendFailed
from services.notification.handlers.dispatch import dispatch_once
from services.notification.settings import NotificationSettings
from shared import db
from shared.cards.links import read_card_token
from shared.contracts import EnrolmentConfirmed, Nominator, decode, new_envelope
from tests.notification_deps import deps_for, handle

pytestmark = pytest.mark.integration
DESA = "64.08.01.2001"
TOKEN = "wa-test-token"
PHONE_NUMBER_ID = "1234567890"
SELF_CHECK = "https://cek.example.go.id"
PDF = b"%PDF-1.4\n%%EOF\n"


@dataclass
class CloudApi:
    """A scripted WhatsApp Cloud API: ``/media`` answers ``media_script`` in order (then an id), records uploads."""

    base: str = ""
    uploads: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    media_script: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v21.0/{phone_number_id}/media")
        async def media(phone_number_id: str, request: Request) -> JSONResponse:
            form = await request.form()
            upload = form["file"]
            assert not isinstance(upload, str)
            self.uploads.append(
                {
                    "phone_number_id": phone_number_id,
                    "authorization": request.headers.get("authorization"),
                    "messaging_product": form.get("messaging_product"),
                    "type": form.get("type"),
                    "filename": upload.filename,
                    "content_type": upload.content_type,
                    "content": await upload.read(),
                }
            )
            await form.close()
            status, body = (
                self.media_script.pop(0) if self.media_script else (200, {"id": f"media-{len(self.uploads)}"})
            )
            return JSONResponse(body, status_code=status)

        @app.post("/v21.0/{phone_number_id}/messages")
        async def send(phone_number_id: str, request: Request) -> JSONResponse:
            self.messages.append(await request.json())
            return JSONResponse({"messages": [{"id": f"wamid.{uuid.uuid4().hex[:12]}"}]})

        return app


@pytest.fixture
async def cloud() -> AsyncIterator[CloudApi]:
    api = CloudApi()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    api.base = f"http://127.0.0.1:{sock.getsockname()[1]}/v21.0"
    server = uvicorn.Server(uvicorn.Config(api.app(), lifespan="off", log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    yield api
    server.should_exit = True
    await serving
    sock.close()


@pytest.fixture
async def pool(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("notification_cards")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 5)
    yield pool
    await pool.close()


def channel(cloud: CloudApi, client: httpx.AsyncClient) -> WhatsAppChannel:
    return WhatsAppChannel(client, cloud.base, PHONE_NUMBER_ID, TOKEN, "id", timeout_s=5)


async def enrol(pool: asyncpg.Pool, policy: ChannelPolicy, times: int = 1) -> EnrolmentConfirmed:
    payload = EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="26000000077", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Kartanegara", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Nur'aini Zoë binti Ahmad", phone="081234567890", desa_code=DESA,
        nominator=Nominator(type="rt", name="RT", region_code=DESA, phone="081298765432"),
    )  # fmt: skip
    env = new_envelope(payload, producer="enrolment", person_key=uuid.uuid4().hex, correlation_id=payload.nomination_id)
    for _ in range(times):  # a redelivered event plans nothing twice
        async with pool.acquire() as conn, conn.transaction():
            await handle(deps_for(pool, policy=policy), conn, [env])
    return payload


async def test_a_new_member_gets_the_card_as_a_whatsapp_document(pool: asyncpg.Pool, cloud: CloudApi) -> None:
    payload = await enrol(pool, ChannelPolicy(beneficiary=("whatsapp", "sms_http"), membership_cards=True), times=2)
    rows = await pool.fetch("SELECT purpose, channel, routes FROM deliveries ORDER BY purpose")
    assert [(r["purpose"], r["channel"]) for r in rows] == [
        ("enrolment_confirmed", "whatsapp"),
        ("membership_card", "whatsapp"),
    ]
    card_routes = rows[1]["routes"]
    assert [r["channel"] for r in card_routes] == ["whatsapp"]  # no SMS fallback for a file
    settings = NotificationSettings(
        database_url="postgresql://unused/db", kafka_bootstrap="127.0.0.1:1", topic_prefix="t.",
        self_check_url=SELF_CHECK,
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as client:
        deps = deps_for(
            pool, settings, channels={"whatsapp": channel(cloud, client)}, dispatch=DispatchPolicy(shutdown_grace_s=5)
        )
        assert await dispatch_once(deps) == 2
    [upload] = cloud.uploads
    assert upload["phone_number_id"] == PHONE_NUMBER_ID and upload["authorization"] == f"Bearer {TOKEN}"
    assert (upload["messaging_product"], upload["type"], upload["content_type"]) == (
        "whatsapp",
        "application/pdf",
        "application/pdf",
    )
    reader = PdfReader(io.BytesIO(upload["content"]))
    front = " ".join(reader.pages[0].extract_text().split())
    assert "Nur'aini Zoë binti Ahmad" in front and "26000000077" in front and "APBD Kab. Kutai Kartanegara" in front
    [qr] = [b.text for img in reader.pages[0].images for b in zxingcpp.read_barcodes(img.image)]
    assert qr.startswith(SELF_CHECK + "/cek/kartu/")
    assert read_card_token(qr.rsplit("/", 1)[1], printers=("notification",)) == payload.nomination_id
    documents = [m for m in cloud.messages if m["template"]["name"] == "payung_membership_card_v1"]
    [card_message] = documents
    header, body = card_message["template"]["components"]
    assert header == {
        "type": "header",
        "parameters": [
            {"type": "document", "document": {"id": "media-1", "filename": "kartu-peserta-bpjs-ketenagakerjaan.pdf"}}
        ],
    }
    assert [p["text"] for p in body["parameters"]] == ["26000000077", "1 Desember 2026", "175"]
    sent = [decode(v) for v in await pool.fetchval("SELECT array_agg(value ORDER BY id) FROM outbox")]
    assert sorted(e.payload.purpose for e in sent if e.event_type == "NotificationSent") == [
        "enrolment_confirmed",
        "membership_card",
    ]


async def test_a_phone_reached_only_by_sms_gets_no_card_message(pool: asyncpg.Pool) -> None:
    await enrol(pool, ChannelPolicy(beneficiary="sms_http", membership_cards=True))
    assert await pool.fetchval("SELECT array_agg(purpose) FROM deliveries") == ["enrolment_confirmed"]


async def test_a_document_without_a_template_and_failed_uploads(cloud: CloudApi) -> None:
    attachment = Attachment("kartu.pdf", "application/pdf", PDF)
    message = Message(uuid.uuid4(), "081234567890", "Kartu", "Kartu Anda terlampir.", attachment=attachment)
    async with httpx.AsyncClient(timeout=10) as client:
        await channel(cloud, client).send(message)
        assert cloud.uploads[0]["content"] == PDF
        assert cloud.messages[-1]["type"] == "document"
        assert cloud.messages[-1]["document"] == {
            "id": "media-1",
            "filename": "kartu.pdf",
            "caption": "Kartu Anda terlampir.",
        }
        cloud.media_script += [
            (500, {"error": {"code": 2, "message": "Service temporarily unavailable"}}),
            (400, {"error": {"code": 131053, "message": "Media upload error"}}),
            (200, {"unexpected": True}),
        ]
        outcomes = []
        for _ in range(3):
            with pytest.raises(SendFailed) as failed:
                await channel(cloud, client).send(message)
            outcomes.append((failed.value.transient, failed.value.cause))
    assert outcomes == [
        (True, "whatsapp answered 500 (2: Service temporarily unavailable)"),
        (False, "whatsapp answered 400 (131053: Media upload error)"),
        (True, "whatsapp media upload answered without an id"),
    ]
    assert len(cloud.messages) == 1  # nothing sent after a failed upload


def test_a_stored_card_that_is_incomplete_or_forged_is_not_rendered() -> None:
    complete = {
        "full_name": "Siti", "membership_number": "26000000077", "funding_source_name": "APBD",
        "coverage_start": "2026-12-01", "desa_name": "Senyiur", "nomination_id": str(uuid.uuid4()),
    }  # fmt: skip
    assert card.attachment(complete, SELF_CHECK).content.startswith(b"%PDF-")
    for broken in (
        {k: v for k, v in complete.items() if k != "full_name"},
        {**complete, "coverage_start": "2026-13-45"},
        {**complete, "nomination_id": "not-a-uuid"},
    ):
        with pytest.raises((KeyError, ValueError, TypeError)):
            card.attachment(broken, SELF_CHECK)
