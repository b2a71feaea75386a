"""The consumed events become deliveries: the event handler of the ``events`` consumer group.

The consumer never calls a provider. For each batch it plans the messages (domain), renders them (messages) and
inserts one delivery per (event, recipient, purpose) in the batch's transaction; the dispatch job sends them later.
A delivery with no usable address is failed at once, and its ``NotificationFailed`` commits with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.notification.domain import digests, messages, plan
from services.notification.domain.deliveries import NewDelivery
from services.notification.domain.routes import Route
from services.notification.handlers import claims as claim_reminders
from services.notification.handlers.outcomes import failed_event
from services.notification.repository import deliveries as repository
from services.notification.repository import digests as repository_digests
from shared.contracts import Envelope, Payload
from shared.db import Conn
from shared.logs import get_logger

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


async def plan_messages(deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    """Every consumed topic (enrolment confirmed / waitlisted / ended / refused, identity rejected).

    Also remember the desa's officials (RT and desa nominators: whom a lead and a quota shortfall are told, digests
    on or off). With digests on, collect the desa's digest items; with ``digest.hold``, a rejection's message to the
    nominator is held and travels inside the desa's daily digest instead of going out on its own.
    """
    policy, with_digests, hold_for_digest = deps.policy, deps.digest.enabled, deps.digest.enabled and deps.digest.hold
    rows: list[NewDelivery] = []
    items: list[tuple[Any, digests.DigestItem, Any]] = []
    officials: list[tuple[str, list[Route]]] = []
    claims = [(env.payload.nomination_id, plan.outcome_told(env.payload), env.event_id) for env in events]
    first = await repository.claim_outcomes(conn, claims)
    for env in events:
        if env.event_id not in first:  # an outcome already told: one message per (nomination, outcome)
            log.info("outcome already told", event_id=str(env.event_id), event_type=env.event_type)
            continue
        official = digests.desa_officials(env.payload, policy)
        item = digests.digest_item(env.payload) if with_digests else None
        held = None
        for planned in plan.plan(env.event_id, env.payload, policy, deps.regions):
            # Only a desa's own official can be told inside the desa's digest.
            hold = hold_for_digest and official is not None and item is not None and _holdable(planned)
            rows.append(_new_delivery(env, planned, deps.whatsapp_prefix, held=hold))
            held = planned.delivery_id if hold else held
        if deps.settings.claim_reminders_enabled and (reminder := claim_reminders.cover_start(deps, env)) is not None:
            rows.append(_new_delivery(env, reminder, deps.whatsapp_prefix))  # how to claim (issue 15)
        if item is not None:
            items.append((env.event_id, item, held))
        if official is not None:
            officials.append(official)
    await claim_reminders.record(conn, events)
    inserted = await repository.insert_deliveries(conn, rows)
    await repository_digests.add_items(conn, items)
    await repository_digests.remember_officials(conn, officials)
    undeliverable = [d for d in inserted if d.last_error is not None]
    if len(undeliverable) < len(inserted):
        await repository.wake_dispatcher(conn)
    for d in undeliverable:
        log.info("delivery failed", delivery_id=str(d.id), nomination_id=str(d.nomination_id), cause=d.last_error)
    return [failed_event(d) for d in undeliverable]


def _holdable(planned: plan.Planned) -> bool:
    """A rejection told to a desa's official with somewhere to send it: the digest can carry it."""
    return planned.purpose == "identity_rejected" and planned.recipient_role == "nominator" and bool(planned.routes)


def _new_delivery(
    envelope: Envelope[Payload], planned: plan.Planned, whatsapp_prefix: str, held: bool = False
) -> NewDelivery:
    routes = [
        messages.rendered_route(planned.template, planned.template_version, planned.variables, route, whatsapp_prefix)
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
