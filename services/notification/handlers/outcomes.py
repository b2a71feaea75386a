"""The events of a delivery's outcome: ``NotificationSent`` and ``NotificationFailed``, caused by the event the
delivery tells about (digests have none of their own: their held messages have theirs; replies to inbound messages
and lead notices are about no nomination and have none)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.notification.domain.deliveries import Delivery
from services.notification.domain.replytexts import LEAD, REPLY
from services.notification.domain.texts import DIGEST
from shared.contracts import Envelope, NotificationFailed, NotificationSent, Payload, new_envelope

PRODUCER = "notification"
# Deliveries about no nomination emit no event: digests, keyword replies, lead messages, quota-shortfall messages.
NO_EVENT = frozenset({DIGEST, REPLY, LEAD, "quota_shortfall"})


def outcome_events(sent: Sequence[Delivery], failed: Sequence[Delivery]) -> list[Envelope[Any]]:
    return [sent_event(d) for d in sent if d.purpose not in NO_EVENT] + [
        failed_event(d) for d in failed if d.purpose not in NO_EVENT
    ]


def sent_event(delivery: Delivery) -> Envelope[NotificationSent]:
    assert delivery.channel is not None
    payload = NotificationSent(
        nomination_id=delivery.nomination_id,
        delivery_id=delivery.id,
        purpose=delivery.purpose,  # type: ignore[arg-type]  # a contract purpose: a digest (daily_digest) emits no event
        recipient_role=delivery.recipient_role,  # type: ignore[arg-type]  # stored from a RecipientRole
        channel=delivery.channel,
    )
    return _envelope(payload, delivery)


def failed_event(delivery: Delivery) -> Envelope[NotificationFailed]:
    payload = NotificationFailed(
        nomination_id=delivery.nomination_id,
        delivery_id=delivery.id,
        purpose=delivery.purpose,  # type: ignore[arg-type]  # a contract purpose: a digest (daily_digest) emits no event
        recipient_role=delivery.recipient_role,  # type: ignore[arg-type]  # stored from a RecipientRole
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
