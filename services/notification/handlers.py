"""Handlers: incoming events become deliveries; delivery outcomes become events.

The subscriber never calls a provider. For each batch it plans the messages (domain), renders them (messages) and
inserts one delivery per (event, recipient, purpose) in the batch's transaction; the dispatcher sends them later.
A delivery with no usable address is failed at once, and its ``NotificationFailed`` commits with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from services.notification import domain, messages, repository
from services.notification.repository import Delivery, NewDelivery
from shared import outbox
from shared.contracts import Envelope, NotificationFailed, NotificationSent, Payload, new_envelope
from shared.logs import get_logger
from shared.regions import RegionIndex

log = get_logger(__name__)

PRODUCER = "notification"

BatchHandler = Callable[[asyncpg.Connection, Sequence[Envelope[Any]]], Awaitable[None]]


def event_handler(policy: domain.ChannelPolicy, regions: RegionIndex, topic_prefix: str) -> BatchHandler:
    """The batch handler of every consumed topic (EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected)."""

    async def handle(conn: asyncpg.Connection, events: Sequence[Envelope[Payload]]) -> None:
        rows = [
            _new_delivery(env, planned)
            for env in events
            for planned in domain.plan(env.event_id, env.payload, policy, regions)
        ]
        inserted = await repository.insert_deliveries(conn, rows)
        undeliverable = [d for d in inserted if d.last_error is not None]
        if len(undeliverable) < len(inserted):
            await repository.wake_dispatcher(conn)
        await outbox.add_events(conn, [failed_event(d) for d in undeliverable], topic_prefix)
        for d in undeliverable:
            log.info("delivery failed", delivery_id=str(d.id), nomination_id=str(d.nomination_id), cause=d.last_error)

    return handle


def _new_delivery(envelope: Envelope[Payload], planned: domain.Planned) -> NewDelivery:
    return NewDelivery(
        id=planned.delivery_id,
        event_id=envelope.event_id,
        nomination_id=envelope.payload.nomination_id,  # type: ignore[attr-defined]
        person_key=envelope.person_key,
        purpose=planned.purpose,
        recipient_role=planned.recipient_role,
        channel=planned.intended_channel,
        address=planned.route.address if planned.route else None,
        template=planned.template,
        template_version=planned.template_version,
        body=messages.render(planned.template, planned.template_version, planned.variables),
        failure=planned.failure,
    )


def sent_event(delivery: Delivery) -> Envelope[NotificationSent]:
    assert delivery.channel is not None
    payload = NotificationSent(
        nomination_id=delivery.nomination_id,
        delivery_id=delivery.id,
        purpose=delivery.purpose,  # type: ignore[arg-type]
        recipient_role=delivery.recipient_role,  # type: ignore[arg-type]
        channel=delivery.channel,
    )
    return _envelope(payload, delivery)


def failed_event(delivery: Delivery) -> Envelope[NotificationFailed]:
    payload = NotificationFailed(
        nomination_id=delivery.nomination_id,
        delivery_id=delivery.id,
        purpose=delivery.purpose,  # type: ignore[arg-type]
        recipient_role=delivery.recipient_role,  # type: ignore[arg-type]
        channel=delivery.channel,
        reason=delivery.last_error or "unknown",
    )
    return _envelope(payload, delivery)


def _envelope(payload: Payload, delivery: Delivery) -> Envelope[Any]:
    return new_envelope(
        payload,
        producer=PRODUCER,
        person_key=delivery.person_key,
        correlation_id=delivery.nomination_id,
        causation_id=delivery.event_id,
    )
