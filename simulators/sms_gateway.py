"""An SMS (and WhatsApp inbound) GATEWAY SIMULATOR for the demo and the tests: it sends nothing to any phone.

Outbound, it speaks the protocol ``services.notification.adapters.sms.SmsHttpChannel`` uses: ``POST /v1/sms`` with
``{"to", "from", "text", "reference"}`` and ``Authorization: Bearer <token>``; it answers ``{"id", "status":
"accepted"}`` and keeps the message (a repeated ``Idempotency-Key`` gets the same id and is kept once).
``GET /v1/outbox?to=+62...`` (same token) lists what was sent to a number, oldest first. It also takes WhatsApp
Cloud API template sends (``POST /<version>/<phone number id>/messages``, same token) into the same outbox.

Inbound, ``POST /v1/inject {"from": "+62...", "text": "CEK ...", "channel"?: "sms" | "whatsapp", "id"?: "..."}``
makes it call the notification service's webhook exactly as a gateway would: the body signed with the webhook
secret (``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>``), to ``<webhook>/v1/receipts/sms_http`` as
``{"id", "from", "text", "received_at"}``, or to ``<webhook>/v1/receipts/whatsapp`` in the WhatsApp Cloud API
shape (``entry[].changes[].value.messages[]``) for channel whatsapp. A given ``id`` is sent again as it is (a
redelivery); without one each injection gets a new id. It answers the webhook's status and JSON. With
``dlr: true`` (``--dlr``) every accepted SMS is followed by a signed ``DELIVRD`` delivery report.

``POST /_simulator/faults {"down"?: bool, "fail_next"?: int}`` makes ``/v1/sms`` answer 503 / 500.

    python -m simulators.sms_gateway --port 8091 --webhook http://127.0.0.1:8004 --secret S --token T [--dlr]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import uvicorn
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

SIGNATURE_HEADER = "X-Hub-Signature-256"  # services.notification.domain.receipts.SIGNATURE_HEADER


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Gateway:
    token: str
    webhook: str  # the notification service's base URL (``.../v1/receipts/<channel>`` is appended)
    secret: str
    dlr: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> our message id
    down: bool = False
    fail_next: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self, kind: str) -> str:
        return f"sim-{kind}-{next(self._ids)}"

    def webhook_url(self, channel: str) -> str:
        base = self.webhook.split("/v1/receipts/", 1)[0].rstrip("/")
        return f"{base}/v1/receipts/{channel}"


class Injected(BaseModel):
    sender: str = Field(alias="from", max_length=32)
    text: str = Field(max_length=2000)
    channel: str = Field(default="sms", pattern="^(sms|whatsapp)$")
    id: str | None = Field(default=None, max_length=100)


class Faults(BaseModel):
    down: bool = False
    fail_next: int = Field(default=0, ge=0)


def inbound_body(channel: str, message_id: str, sender: str, text: str, at: datetime) -> dict[str, Any]:
    """What a gateway posts for one inbound message (SMS gateway JSON, or the WhatsApp Cloud API webhook)."""
    if channel == "whatsapp":
        message = {
            "from": sender.lstrip("+"),
            "id": message_id,
            "timestamp": str(int(at.timestamp())),
            "type": "text",
            "text": {"body": text},
        }
        value = {"messaging_product": "whatsapp", "messages": [message]}
        return {"object": "whatsapp_business_account", "entry": [{"id": "sim", "changes": [{"value": value}]}]}
    return {"id": message_id, "from": sender, "text": text, "received_at": at.isoformat()}


def create(gateway: Gateway) -> FastAPI:
    client: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=3.0)) as http:
            client["http"] = http
            yield

    app = FastAPI(title="SMS gateway simulator (sends nothing)", lifespan=lifespan)
    app.state.gateway = gateway
    tasks: set[asyncio.Task[Any]] = set()

    def authorised(authorization: str) -> bool:
        return hmac.compare_digest(authorization.encode(), f"Bearer {gateway.token}".encode())

    async def post_signed(channel: str, body: Any) -> httpx.Response:
        raw = orjson.dumps(body)
        headers = {SIGNATURE_HEADER: sign(gateway.secret, raw), "Content-Type": "application/json"}
        return await client["http"].post(gateway.webhook_url(channel), content=raw, headers=headers)

    @app.post("/v1/sms")
    async def send(
        request: Request, authorization: str = Header(default=""), idempotency_key: str = Header(default="")
    ) -> JSONResponse:
        if not authorised(authorization):
            return JSONResponse({"error": "bad token"}, status_code=401)
        if gateway.down:
            return JSONResponse({"error": "service unavailable (simulated)"}, status_code=503)
        if gateway.fail_next > 0:
            gateway.fail_next -= 1
            return JSONResponse({"error": "internal error (simulated)"}, status_code=500)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("to", "text")):
            return JSONResponse({"error": "to and text are required"}, status_code=400)
        if idempotency_key and idempotency_key in gateway.by_key:
            return JSONResponse({"id": gateway.by_key[idempotency_key], "status": "accepted"})
        message_id = gateway.next_id("out")
        if idempotency_key:
            gateway.by_key[idempotency_key] = message_id
        gateway.sent.append(
            {
                "id": message_id,
                "to": body["to"],
                "from": body.get("from"),
                "text": body["text"],
                "reference": body.get("reference"),
                "channel": "sms",
                "at": datetime.now(UTC).isoformat(),
            }
        )
        if gateway.dlr:
            task = asyncio.create_task(post_signed("sms_http", {"id": message_id, "status": "DELIVRD"}))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return JSONResponse({"id": message_id, "status": "accepted"})

    @app.post("/{version}/{phone_number_id}/messages")
    async def whatsapp_send(request: Request, authorization: str = Header(default="")) -> JSONResponse:
        """WhatsApp Cloud API template sends (``WHATSAPP_API_URL`` = this server + ``/v21.0``), kept in the same
        outbox with channel whatsapp; ``text`` is the template name and its body parameters."""
        if not authorised(authorization):
            return JSONResponse({"error": {"code": 190, "message": "bad token"}}, status_code=401)
        try:
            body = orjson.loads(await request.body())
            template = body["template"]
            params = [p["text"] for c in template.get("components", []) for p in c.get("parameters", [])]
            to, name = "+" + str(body["to"]).lstrip("+"), str(template["name"])
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return JSONResponse({"error": {"code": 100, "message": "invalid parameter"}}, status_code=400)
        message_id = gateway.next_id("wa")
        text = " | ".join([name, *map(str, params)])
        gateway.sent.append(
            {"id": message_id, "channel": "whatsapp", "to": to, "template": name, "params": params, "text": text}
        )
        return JSONResponse({"messaging_product": "whatsapp", "messages": [{"id": message_id}]})

    @app.get("/v1/outbox")
    async def outbox(to: str = Query(max_length=32), authorization: str = Header(default="")) -> JSONResponse:
        if not authorised(authorization):
            return JSONResponse({"error": "bad token"}, status_code=401)
        return JSONResponse({"messages": [m for m in gateway.sent if m["to"] == to]})

    @app.post("/v1/inject")
    async def inject(message: Injected) -> JSONResponse:
        message_id = message.id or gateway.next_id("in")
        body = inbound_body(message.channel, message_id, message.sender, message.text, datetime.now(UTC))
        channel = "whatsapp" if message.channel == "whatsapp" else "sms_http"
        try:
            response = await post_signed(channel, body)
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"webhook unreachable ({type(exc).__name__})"}, status_code=502)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return JSONResponse({"id": message_id, "status": response.status_code, "answer": answer})

    @app.post("/_simulator/faults")
    async def faults(faults: Faults) -> dict[str, Any]:
        gateway.down, gateway.fail_next = faults.down, faults.fail_next
        return faults.model_dump()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--webhook", required=True, help="the notification service's base URL")
    parser.add_argument("--secret", required=True, help="the webhook secret (PAYUNG_WEBHOOK_SECRET)")
    parser.add_argument("--token", required=True, help="the bearer token (PAYUNG_SMS_GATEWAY_TOKEN)")
    parser.add_argument("--dlr", action="store_true", help="send a delivery report for every accepted SMS")
    options = parser.parse_args()
    app = create(Gateway(token=options.token, webhook=options.webhook, secret=options.secret, dlr=options.dlr))
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
