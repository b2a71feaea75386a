"""The operators' use cases: deliveries by nomination or status, the retry of a failed one, an opt-out.

Addresses are personal data: operators see them masked (``+62812****890``), never the message bodies, and every
listing is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from services.notification.commands import ListDeliveries, RecordOptOut, RetryDelivery
from services.notification.domain.addresses import mask_address
from services.notification.errors import DeliveryNotFound, Refused
from services.notification.repository import deliveries as repository
from services.notification.repository import receipts as repository_receipts
from shared import audit
from shared.db import Conn
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


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


async def list_deliveries(deps: Deps, conn: Conn, cmd: ListDeliveries) -> Handled[list[DeliveryView]]:
    rows = await repository.list_deliveries(conn, nomination_id=cmd.nomination_id, status=cmd.status, limit=cmd.limit)
    # Masked addresses are still personal data: who saw which deliveries is audited.
    await audit.record(
        conn,
        cmd.caller,
        "deliveries.listed",
        cmd.nomination_id,
        {"status": cmd.status, "ids": [str(r["id"]) for r in rows]},
    )
    return Handled([DeliveryView(**{**dict(r), "address": mask_address(r["address"])}) for r in rows])


async def retry_delivery(deps: Deps, conn: Conn, cmd: RetryDelivery) -> Handled[None]:
    """Put a failed delivery back in the queue with a fresh set of attempts, from its first channel."""
    found = await repository.requeue_failed(conn, cmd.delivery_id)
    if found is None:
        raise DeliveryNotFound
    if found["status"] != "failed":
        raise Refused(f"only failed deliveries can be retried; this one is {found['status']}")
    if not found["has_address"]:
        raise Refused("this delivery has no address to send to: correct the contact upstream")
    await repository.wake_dispatcher(conn)
    await audit.record(conn, cmd.caller, "delivery.retried", cmd.delivery_id)
    log.info("delivery requeued by operator", delivery_id=str(cmd.delivery_id))
    return Handled(None)


async def record_opt_out(deps: Deps, conn: Conn, cmd: RecordOptOut) -> Handled[bool]:
    """No more messages to this number: its pending deliveries fail with cause ``opted_out`` when they come due.
    Answers whether the number is new to the list."""
    added = await repository_receipts.add_opt_out(conn, cmd.address, "api")
    await audit.record(conn, cmd.caller, "opt_out.recorded", None, {"new": added})
    return Handled(added)
