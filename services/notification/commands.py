"""The notification service's commands: what a route, a provider's webhook or a job asks a handler to do.

Frozen models, built once the request is validated; a command acting for a caller carries it (``caller``), so the
handler audits in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.notification.domain.deliveries import Delivery
from services.notification.domain.dispatch import Outcome
from services.notification.domain.receipts import Inbound, Receipt
from shared.auth import Principal

Status = Literal["pending", "sending", "sent", "delivered", "read", "failed"]
WebhookChannel = Literal["whatsapp", "sms_http"]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)


class ListDeliveries(Command):
    caller: Principal
    nomination_id: uuid.UUID | None
    status: Status | None
    limit: int


class RetryDelivery(Command):
    caller: Principal
    delivery_id: uuid.UUID


class RecordOptOut(Command):
    caller: Principal
    address: str  # E.164, normalised by the route


class ApplyWebhook(Command):
    """A provider's signed callback, read: its receipts and the messages people sent us."""

    channel: WebhookChannel
    receipts: tuple[Receipt, ...]
    inbound: tuple[Inbound, ...]


# --- The jobs' steps --------------------------------------------------------------------------------------------


class ClaimDue(Command):
    limit: int
    lease_s: float


class RecordOutcomes(Command):
    # SendFailed is an exception: taken as it is, not validated field by field.
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    outcomes: tuple[tuple[Delivery, Outcome], ...]


class DesasWithNews(Command):
    pass


class MakeDigest(Command):
    desa_code: str
    day: date


class RemindClaims(Command):
    """One round of the yearly claim reminders on the local day ``today`` (issue 15, domain/claims.py)."""

    today: date
    after: uuid.UUID | None = None
    limit: int = 500
