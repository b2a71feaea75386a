"""Handlers: incoming events become deliveries; delivery outcomes become events.

The subscriber never calls a provider. For each batch it plans the messages (domain), renders them (messages) and
inserts one delivery per (event, recipient, purpose) in the batch's transaction; the dispatcher sends them later.
A delivery with no usable address is failed at once, and its ``NotificationFailed`` commits with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.notification import digest_rules, domain, messages, repository, repository_digests
from services.notification.repository import Delivery, NewDelivery
from shared import outbox
from shared.contracts import Envelope, NotificationFailed, NotificationSent, Payload, new_envelope
from shared.db import Conn
from shared.logs import get_logger
from shared.regions import RegionIndex

log = get_logger(__name__)

PRODUCER = "notification"

BatchHandler = Callable[[Conn, Sequence[Envelope[Any]]], Awaitable[None]]


def event_handler(
    policy: domain.ChannelPolicy,
    regions: RegionIndex,
    topic_prefix: str,
    whatsapp_prefix: str = "payung_",
    digests: bool = False,
    hold_for_digest: bool = False,
) -> BatchHandler:
    """The batch handler of every consumed topic (enrolment confirmed / waitlisted / ended, identity rejected).

    ``digests``: also collect the desa's digest items and officials. ``hold_for_digest``: a rejection's message to
    the nominator is held and travels inside the desa's daily digest instead of going out on its own.
    """

    async def handle(conn: Conn, events: Sequence[Envelope[Payload]]) -> None:
        rows: list[NewDelivery] = []
        items: list[tuple[Any, digest_rules.DigestItem, Any]] = []
        officials: list[tuple[str, list[domain.Route]]] = []
        claims = [(env.payload.nomination_id, domain.outcome_told(env.payload), env.event_id) for env in events]  # type: ignore[attr-defined]  # each consumed payload names its nomination
        first = await repository.claim_outcomes(conn, claims)
        for env in events:
            if env.event_id not in first:  # an outcome already told: one message per (nomination, outcome)
                log.info("outcome already told", event_id=str(env.event_id), event_type=env.event_type)
                continue
            official = digest_rules.desa_officials(env.payload, policy) if digests else None
            item = digest_rules.digest_item(env.payload) if digests else None
            held = None
            for planned in domain.plan(env.event_id, env.payload, policy, regions):
                # Only a desa's own official can be told inside the desa's digest.
                hold = hold_for_digest and official is not None and item is not None and _holdable(planned)
                rows.append(_new_delivery(env, planned, whatsapp_prefix, held=hold))
                held = planned.delivery_id if hold else held
            if item is not None:
                items.append((env.event_id, item, held))
            if official is not None:
                officials.append(official)
        inserted = await repository.insert_deliveries(conn, rows)
        await repository_digests.add_items(conn, items)
        await repository_digests.remember_officials(conn, officials)
        undeliverable = [d for d in inserted if d.last_error is not None]
        if len(undeliverable) < len(inserted):
            await repository.wake_dispatcher(conn)
        await outbox.add_events(conn, [failed_event(d) for d in undeliverable], topic_prefix)
        for d in undeliverable:
            log.info("delivery failed", delivery_id=str(d.id), nomination_id=str(d.nomination_id), cause=d.last_error)

    return handle


def _holdable(planned: domain.Planned) -> bool:
    """A rejection told to a desa's official with somewhere to send it: the digest can carry it."""
    return planned.purpose == "identity_rejected" and planned.recipient_role == "nominator" and bool(planned.routes)


def _new_delivery(
    envelope: Envelope[Payload], planned: domain.Planned, whatsapp_prefix: str, held: bool = False
) -> NewDelivery:
    routes = [
        rendered_route(planned.template, planned.template_version, planned.variables, route, whatsapp_prefix)
        for route in planned.routes
    ]
    return NewDelivery(
        id=planned.delivery_id,
        event_id=envelope.event_id,
        nomination_id=envelope.payload.nomination_id,  # type: ignore[attr-defined]  # each consumed payload names its nomination
        person_key=envelope.person_key,
        purpose=planned.purpose,
        recipient_role=planned.recipient_role,
        channel=planned.intended_channel,
        address=planned.route.address if planned.route else None,
        template=planned.template,
        template_version=planned.template_version,
        body=routes[0]["body"]
        if routes
        else messages.render(planned.template, planned.template_version, planned.variables),
        failure=planned.failure,
        routes=routes,
        desa_code=getattr(envelope.payload, "desa_code", None),
        held=held,
    )


def rendered_route(
    template: str, version: int, variables: dict[str, Any], route: domain.Route, whatsapp_prefix: str
) -> dict[str, Any]:
    """A route with the text it carries: one SMS on SMS, the full text elsewhere, template + parameters on WhatsApp."""
    form = domain.template_form(route.channel)
    rendered: dict[str, Any] = {
        "channel": route.channel,
        "address": route.address,
        "body": messages.render(template, version, variables, form),
    }
    if route.channel == "whatsapp":
        rendered["whatsapp_template"] = messages.whatsapp_template_name(whatsapp_prefix, template, version)
        rendered["params"] = messages.whatsapp_parameters(template, variables)
    return rendered


def outcome_events(sent: Sequence[Delivery], failed: Sequence[Delivery]) -> list[Envelope[Any]]:
    """The events of these outcomes; digests have none of their own (their held messages have theirs)."""
    return [sent_event(d) for d in sent if d.purpose != domain.DIGEST] + [
        failed_event(d) for d in failed if d.purpose != domain.DIGEST
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
