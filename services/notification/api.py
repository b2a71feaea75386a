"""HTTP API: deliveries (by nomination or status) and the operator's retry; provider webhooks; opt-outs.

Addresses are personal data: the API shows them masked (``+62812****890``) and never shows message bodies.
Webhooks are signed (``receipts.SIGNATURE_HEADER``, HMAC-SHA256 of the raw body with ``PAYUNG_WEBHOOK_SECRET``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from services.notification import domain, receipts, repository, repository_receipts
from services.notification.handlers import outcome_events
from services.notification.settings import NotificationSettings
from shared import audit, outbox
from shared.auth import Principal, principal
from shared.logs import get_logger
from shared.service import Runtime, runtime

log = get_logger(__name__)

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


class DeliveryView(BaseModel):
    id: uuid.UUID
    purpose: str
    recipient_role: str
    nomination_id: uuid.UUID
    channel: str | None
    channels: list[str]  # the fallback order; ``route_index`` is the current one
    route_index: int
    address: str | None  # masked
    template: str
    template_version: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    provider_message_id: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None


class DeliveryList(BaseModel):
    nomination_id: uuid.UUID | None
    status: str | None = None
    deliveries: list[DeliveryView]


Status = Literal["pending", "sending", "sent", "delivered", "read", "failed"]


RuntimeDep = Annotated[Runtime[NotificationSettings], Depends(runtime)]
Caller = Annotated[Principal, Depends(principal)]


@router.get("")
async def list_deliveries(
    rt: RuntimeDep,
    caller: Caller,
    nomination_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeliveryList:
    """By nomination, or by status (``?status=failed``: what an operator may want to retry), newest first."""
    if nomination_id is None and status is None:
        raise HTTPException(422, "give nomination_id or status")
    async with rt.pool.acquire() as conn, conn.transaction():
        rows = await repository.list_deliveries(conn, nomination_id=nomination_id, status=status, limit=limit)
        # Masked addresses are still personal data: who saw which deliveries is audited.
        await audit.record(
            conn, caller, "deliveries.listed", nomination_id, {"status": status, "ids": [str(r["id"]) for r in rows]}
        )
    views = [DeliveryView(**{**dict(r), "address": domain.mask_address(r["address"])}) for r in rows]
    return DeliveryList(nomination_id=nomination_id, status=status, deliveries=views)


@router.post("/{delivery_id}/retry", status_code=202)
async def retry_delivery(rt: RuntimeDep, delivery_id: uuid.UUID, caller: Caller) -> dict[str, str]:
    """Operator action: put a failed delivery back in the queue with a fresh set of attempts."""
    async with rt.pool.acquire() as conn, conn.transaction():
        found = await repository.requeue_failed(conn, delivery_id)
        if found is None:
            raise HTTPException(404, "no such delivery")
        if found["status"] != "failed":
            raise HTTPException(409, f"only failed deliveries can be retried; this one is {found['status']}")
        if not found["has_address"]:
            raise HTTPException(409, "this delivery has no address to send to: correct the contact upstream")
        await repository.wake_dispatcher(conn)
        await audit.record(conn, caller, "delivery.retried", delivery_id)
    log.info("delivery requeued by operator", delivery_id=str(delivery_id))
    return {"id": str(delivery_id), "status": "pending"}


webhooks = APIRouter(prefix="/v1", tags=["opt-outs"])
# Called by the providers, which cannot carry our API keys: authenticated by the HMAC signature alone, so
# ``app.create`` adds this router outside the runtime's principal guard.
provider_webhooks = APIRouter(prefix="/v1", tags=["webhooks"])


@provider_webhooks.post("/receipts/{channel}")
async def receive(rt: RuntimeDep, channel: Literal["whatsapp", "sms_http"], request: Request) -> dict[str, int]:
    """Provider callbacks: delivery receipts (sent / delivered / read / failed) and inbound STOP / BERHENTI.

    Idempotent and order-free: receipts are stored by (channel, message id, status) and folded into the delivery's
    status (``receipts.status_after``), also when the send result is recorded only later.
    """
    settings = rt.settings
    if settings.webhook_secret is None:
        # Not enabled in this deployment: to a caller that is a missing endpoint, not a server fault.
        raise HTTPException(404, "webhooks are not enabled here (PAYUNG_WEBHOOK_SECRET is not set)")
    raw = await request.body()  # bounded by the edge (shared/http.py) before a byte is read
    if not receipts.signature_ok(
        settings.webhook_secret.get_secret_value(), raw, request.headers.get(receipts.SIGNATURE_HEADER)
    ):
        raise HTTPException(401, "bad or missing signature")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise HTTPException(400, "body is not JSON") from None
    try:
        found, inbound = receipts.parse(channel, body)
    except receipts.MalformedWebhook as exc:
        raise HTTPException(422, f"webhook body: {exc}") from None
    stops = []
    for message in inbound:
        if receipts.is_stop(message.text):
            try:
                stops.append(domain.normalise_phone(message.sender))
            except domain.InvalidAddress:
                log.warning("opt-out from an unreadable number ignored", channel=channel)
    keys = [(channel, r.provider_message_id) for r in found]
    async with rt.pool.acquire() as conn, conn.transaction():
        await repository_receipts.lock_keys(conn, keys)
        new = await repository_receipts.store_receipts(conn, channel, found)
        changed, failed = await repository_receipts.apply_receipts(conn, keys)
        opted = [a for a in stops if await repository_receipts.add_opt_out(conn, a, f"inbound:{channel}")]
        await outbox.add_events(conn, outcome_events([], failed), settings.topic_prefix)
    log.info("webhook", channel=channel, receipts=len(found), new=new, applied=changed, opt_outs=len(opted))
    return {"receipts": len(found), "new": new, "applied": changed, "opt_outs": len(opted)}


class OptOut(BaseModel):
    phone: str = Field(max_length=32)


@webhooks.post("/opt-outs", status_code=201)
async def opt_out(rt: RuntimeDep, body: OptOut, caller: Caller) -> dict[str, str | bool]:
    """No more messages to this number: its pending deliveries fail with cause ``opted_out`` when they come due."""
    try:
        address = domain.normalise_phone(body.phone)
    except domain.InvalidAddress as exc:
        raise HTTPException(422, exc.cause) from None
    async with rt.pool.acquire() as conn, conn.transaction():
        added = await repository_receipts.add_opt_out(conn, address, "api")
        await audit.record(conn, caller, "opt_out.recorded", None, {"new": added})
    return {"phone": domain.mask_address(address) or "", "new": added}
