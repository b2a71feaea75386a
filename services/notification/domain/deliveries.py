"""Deliveries as the service's rules see them: one to insert (``NewDelivery``) and one stored (``Delivery``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class NewDelivery:
    id: uuid.UUID
    event_id: uuid.UUID
    nomination_id: uuid.UUID
    person_key: str
    purpose: str
    recipient_role: str
    channel: str | None
    address: str | None
    template: str
    template_version: int
    body: str
    failure: str | None  # set: the delivery is failed from the start (no usable address)
    # The ordered fallback: [{"channel", "address", "body", "whatsapp_template", "params"}, ...]; the first is current.
    routes: list[dict[str, Any]] = field(default_factory=list)
    desa_code: str | None = None
    held: bool = False  # travels inside the desa's digest (status 'held' until the digest is sent)
    digest_day: date | None = None  # set on digest deliveries


@dataclass(frozen=True)
class Delivery:
    """A delivery as the dispatcher and the outcome events need it."""

    id: uuid.UUID
    event_id: uuid.UUID
    nomination_id: uuid.UUID
    person_key: str
    purpose: str
    recipient_role: str
    channel: str | None
    address: str | None
    body: str
    attempts: int
    last_error: str | None = None
    route_index: int = 0
    routes: tuple[dict[str, Any], ...] = ()
    provider_message_id: str | None = None
    desa_code: str | None = None
    digest_day: date | None = None

    @property
    def route(self) -> dict[str, Any]:
        """The current route's stored rendering (WhatsApp template name and parameters live here)."""
        return self.routes[self.route_index] if self.route_index < len(self.routes) else {}
