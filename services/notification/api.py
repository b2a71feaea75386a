"""HTTP API: what was sent about a nomination, and the operator's retry of a failed delivery.

Addresses are personal data: the API shows them masked (``+62812****890``) and never shows message bodies.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from services.notification import domain, repository
from shared.logs import get_logger
from shared.service import Runtime, runtime

log = get_logger(__name__)

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])


class DeliveryView(BaseModel):
    id: uuid.UUID
    purpose: str
    recipient_role: str
    channel: str | None
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


class DeliveryList(BaseModel):
    nomination_id: uuid.UUID
    deliveries: list[DeliveryView]


RuntimeDep = Annotated[Runtime, Depends(runtime)]


@router.get("")
async def list_deliveries(rt: RuntimeDep, nomination_id: Annotated[uuid.UUID, Query()]) -> DeliveryList:
    rows = await repository.list_for_nomination(rt.pool, nomination_id)
    views = [DeliveryView(**{**dict(r), "address": domain.mask_address(r["address"])}) for r in rows]
    return DeliveryList(nomination_id=nomination_id, deliveries=views)


@router.post("/{delivery_id}/retry", status_code=202)
async def retry_delivery(rt: RuntimeDep, delivery_id: uuid.UUID) -> dict[str, str]:
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
    log.info("delivery requeued by operator", delivery_id=str(delivery_id))
    return {"id": str(delivery_id), "status": "pending"}
