"""HTTP API: deliveries (by nomination or status) and the operator's retry; provider webhooks; opt-outs.

Addresses are personal data: the API shows them masked (``+62812****890``) and never shows message bodies.
Webhooks are signed (``domain.receipts.SIGNATURE_HEADER``, HMAC-SHA256 of the raw body with
``PAYUNG_WEBHOOK_SECRET``): the route checks the signature and reads the body, the handler applies it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from services.notification import bootstrap, commands
from services.notification.bootstrap import Deps
from services.notification.domain import receipts
from services.notification.domain.addresses import mask_address, normalise_phone
from services.notification.errors import InvalidAddress, MalformedWebhook, Refused
from services.notification.handlers import deliveries
from services.notification.handlers import receipts as receipt_handlers
from services.notification.handlers.deliveries import DeliveryView
from shared import messaging
from shared.auth import Principal, principal

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])
webhooks = APIRouter(prefix="/v1", tags=["opt-outs"])
# Called by the providers, which cannot carry our API keys: authenticated by the HMAC signature alone, so
# ``app`` adds this router outside the runtime's principal guard.
provider_webhooks = APIRouter(prefix="/v1", tags=["webhooks"])

DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
Caller = Annotated[Principal, Depends(principal)]


class DeliveryList(BaseModel):
    nomination_id: uuid.UUID | None
    status: str | None = None
    deliveries: list[DeliveryView]


@router.get("")
async def list_deliveries(
    deps: DepsDep,
    caller: Caller,
    nomination_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[commands.Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """By nomination, or by status (``?status=failed``: what an operator may want to retry), newest first."""
    if nomination_id is None and status is None:
        raise HTTPException(422, "give nomination_id or status")
    command = commands.ListDeliveries(caller=caller, nomination_id=nomination_id, status=status, limit=limit)
    views = await messaging.run(deps, deliveries.list_deliveries, command)
    return DeliveryList(nomination_id=nomination_id, status=status, deliveries=views)


@router.post("/{delivery_id}/retry", status_code=202)
async def retry_delivery(deps: DepsDep, delivery_id: uuid.UUID, caller: Caller) -> dict[str, str]:
    """Operator action: put a failed delivery back in the queue with a fresh set of attempts."""
    try:
        await messaging.run(
            deps, deliveries.retry_delivery, commands.RetryDelivery(caller=caller, delivery_id=delivery_id)
        )
    except Refused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return {"id": str(delivery_id), "status": "pending"}


@provider_webhooks.post("/receipts/{channel}")
async def receive(deps: DepsDep, channel: commands.WebhookChannel, request: Request) -> dict[str, int]:
    """Provider callbacks: delivery receipts (sent / delivered / read / failed) and inbound STOP / BERHENTI.

    Idempotent and order-free: receipts are stored by (channel, message id, status) and folded into the delivery's
    status, also when the send result is recorded only later.
    """
    secret = deps.settings.webhook_secret
    if secret is None:
        # Not enabled in this deployment: to a caller that is a missing endpoint, not a server fault.
        raise HTTPException(404, "webhooks are not enabled here (PAYUNG_WEBHOOK_SECRET is not set)")
    raw = await request.body()  # bounded by the edge (shared/http.py) before a byte is read
    if not receipts.signature_ok(secret.get_secret_value(), raw, request.headers.get(receipts.SIGNATURE_HEADER)):
        raise HTTPException(401, "bad or missing signature")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "body is not JSON") from None
    try:
        found, inbound = receipts.parse(channel, body)
    except MalformedWebhook as exc:
        raise HTTPException(422, f"webhook body: {exc}") from None
    command = commands.ApplyWebhook(channel=channel, receipts=tuple(found), inbound=tuple(inbound))
    return await messaging.run(deps, receipt_handlers.apply_webhook, command)


class OptOut(BaseModel):
    phone: str = Field(max_length=32)


@webhooks.post("/opt-outs", status_code=201)
async def opt_out(deps: DepsDep, body: OptOut, caller: Caller) -> dict[str, str | bool]:
    """No more messages to this number: its pending deliveries fail with cause ``opted_out`` when they come due."""
    try:
        address = normalise_phone(body.phone)
    except InvalidAddress as exc:
        raise HTTPException(422, exc.cause) from None
    added = await messaging.run(deps, deliveries.record_opt_out, commands.RecordOptOut(caller=caller, address=address))
    return {"phone": mask_address(address) or "", "new": added}
