"""Inbound messages that are not opt-outs become ``InboundMessageReceived`` events, in the webhook's transaction.

A message id seen before (a redelivered webhook) publishes nothing; beyond the per-number limit a message is
recorded but not published (counted in ``payung_inbound_messages_total{outcome="limited"}``), so one sender cannot
flood Kafka or nomination. Nothing here logs the number or the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

from services.notification.adapters.metrics import INBOUND
from services.notification.domain import inbound as rules
from services.notification.domain.addresses import normalise_phone
from services.notification.domain.receipts import Inbound
from services.notification.errors import InvalidAddress
from services.notification.repository import inbound as repository
from shared.contracts import Envelope, InboundMessageReceived, new_envelope
from shared.db import Conn
from shared.logs import get_logger

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)
PRODUCER = "notification"


async def receive(deps: Deps, conn: Conn, channel: str, messages: Sequence[Inbound]) -> list[Envelope[Any]]:
    """The events of a webhook's inbound messages (opt-outs already taken out)."""
    secret = deps.settings.inbound_secret
    contract_channel = rules.CONTRACT_CHANNEL.get(channel)
    if secret is None or contract_channel is None or not messages:
        return []
    limit = rules.InboundLimit(per_window=deps.settings.inbound_limit_per_hour)
    now = deps.now().astimezone(UTC)
    out: list[Envelope[Any]] = []
    for message in messages:
        try:
            phone = normalise_phone(message.sender)
        except InvalidAddress:
            INBOUND.labels(channel, "unreadable").inc()
            continue
        text = rules.published_text(message.text)
        message_id = rules.message_id(channel, message.gateway_id, phone, text)
        key = rules.phone_key(secret, phone)
        await repository.lock_phone(conn, key)
        recent = await repository.published_since(conn, key, now - limit.window)
        publish = rules.within_limit(recent, limit)
        if not await repository.record(conn, message_id, channel, key, publish):
            INBOUND.labels(channel, "replayed").inc()
            continue
        if not publish:
            INBOUND.labels(channel, "limited").inc()
            continue
        INBOUND.labels(channel, "published").inc()
        payload = InboundMessageReceived(
            message_id=message_id, channel=contract_channel, phone=phone, text=text, received_at=now
        )
        out.append(new_envelope(payload, producer=PRODUCER, person_key=key, correlation_id=message_id))
    if len(out) < len(messages):
        log.info("inbound messages not published", channel=channel, received=len(messages), published=len(out))
    return out
