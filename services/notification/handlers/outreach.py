"""The ``outreach`` consumer group: replies to inbound messages, objection messages, leads to desa officials.

Like the ``events`` group it never calls a provider: it inserts deliveries in the batch's transaction and the
dispatch job sends them (retries, fallback, receipts). However often an event is republished: one reply per inbound
message and one notice per (lead, official), by their delivery ids; one message set per objection state, by
``outcomes_told`` as for outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.notification.adapters.metrics import LEADS_WITHOUT_OFFICIAL
from services.notification.domain import digests, messages, replies
from services.notification.domain.addresses import normalise_phone
from services.notification.domain.deliveries import NewDelivery
from services.notification.domain.inbound import REPLY_CHANNEL
from services.notification.domain.plan import Planned
from services.notification.domain.replytexts import LEAD, REPLY, REPLY_WHATSAPP_TEMPLATE, TEMPLATE_VERSIONS
from services.notification.domain.routes import Route, nominator_routes
from services.notification.errors import InvalidAddress
from services.notification.handlers.outcomes import failed_event
from services.notification.repository import deliveries as repository
from services.notification.repository import digests as repository_digests
from shared.contracts import (
    Envelope,
    InboundMessageAnswered,
    LeadReceived,
    ObjectionFiled,
    ObjectionReviewed,
)
from shared.db import Conn
from shared.logs import get_logger

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


def told_key(envelope: Envelope[Any]) -> tuple[Any, str] | None:
    """(nomination, what is told) of an objection event, for ``outcomes_told``. Replies and lead notices need
    none: their delivery ids derive from the message / lead id, so a republished answer or lead maps onto the
    same delivery (and ``outcomes_told``, kept for good, does not grow with inbound traffic)."""
    p = envelope.payload
    match p:
        case ObjectionFiled():
            return p.nomination_id, f"objection:{p.objection_id}:received"
        case ObjectionReviewed():
            return p.nomination_id, f"objection:{p.objection_id}:{p.state}"
    return None


async def handle(deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    keyed = [(env, key) for env in events if (key := told_key(env)) is not None]
    first = await repository.claim_outcomes(conn, [(*key, env.event_id) for env, key in keyed])
    repeated = {env.event_id for env, _ in keyed} - first
    rows: list[NewDelivery] = []
    officials = []
    for env in events:
        if env.event_id in repeated:
            log.info("already told", event_id=str(env.event_id), event_type=env.event_type)
            continue
        match env.payload:
            case InboundMessageAnswered():
                rows.append(_reply(deps, env))
            case ObjectionFiled() | ObjectionReviewed():
                for planned in replies.objection_planned(env.event_id, env.payload, deps.policy):
                    rows.append(_objection_delivery(deps, env, planned))
                official = digests.desa_officials(env.payload, deps.policy)
                if official is not None and isinstance(env.payload, ObjectionFiled):
                    officials.append(official)
            case LeadReceived():
                rows.extend(await _lead(deps, conn, env))
    await repository_digests.remember_officials(conn, officials)
    inserted = await repository.insert_deliveries(conn, rows)
    undeliverable = [d for d in inserted if d.last_error is not None]
    if len(undeliverable) < len(inserted):
        await repository.wake_dispatcher(conn)
    # Only objection messages are about a nomination: replies and lead notices emit no event.
    return [failed_event(d) for d in undeliverable if d.purpose not in (REPLY, LEAD)]


def _reply(deps: Deps, env: Envelope[InboundMessageAnswered]) -> NewDelivery:
    answer = env.payload
    template, variables = replies.answer_template(answer)
    version = TEMPLATE_VERSIONS[template]
    body = messages.render(template, version, variables)
    channel = REPLY_CHANNEL[answer.channel]
    if channel not in deps.channels and "local" in deps.channels:
        channel = "local"  # the local demo stack has no gateway: the reply lands in its messages file
    route: dict[str, Any] = {"channel": channel, "address": answer.phone, "body": body}
    if channel == "whatsapp":
        route["whatsapp_template"] = messages.whatsapp_template_name(deps.whatsapp_prefix, REPLY_WHATSAPP_TEMPLATE, 1)
        route["params"] = [" ".join(body.split())]
    failure = None
    try:
        route["address"] = normalise_phone(answer.phone)
    except InvalidAddress as exc:
        failure = exc.cause  # failed at once; a reply emits no event
    delivery_id = replies.reply_delivery_id(answer.message_id)
    return NewDelivery(
        id=delivery_id,
        event_id=answer.message_id,  # one reply per message answered, however often the answer is republished
        nomination_id=answer.message_id,  # not a nomination: the message answered (the purpose says so)
        person_key=env.person_key,
        purpose=REPLY,
        recipient_role="beneficiary",
        channel=channel,
        address=route["address"],
        template=template,
        template_version=version,
        body=body,
        failure=failure,
        routes=[route],
    )


def _objection_delivery(
    deps: Deps, env: Envelope[ObjectionFiled] | Envelope[ObjectionReviewed], planned: Planned
) -> NewDelivery:
    routes = [
        messages.rendered_route(planned.template, planned.template_version, planned.variables, r, deps.whatsapp_prefix)
        for r in planned.routes
    ]
    template, version = planned.template, planned.template_version
    body = routes[0]["body"] if routes else messages.render(template, version, planned.variables)
    return NewDelivery(
        id=planned.delivery_id,
        event_id=env.event_id,
        nomination_id=env.payload.nomination_id,
        person_key=env.person_key,
        purpose=planned.purpose,
        recipient_role=planned.recipient_role,
        channel=planned.intended_channel,
        address=planned.route.address if planned.route else None,
        template=planned.template,
        template_version=planned.template_version,
        body=body,
        failure=planned.failure,
        routes=routes,
    )


async def _lead(deps: Deps, conn: Conn, env: Envelope[LeadReceived]) -> list[NewDelivery]:
    """One message per official of the lead's desa; none known: the regency's Disnaker contact (or nobody)."""
    lead = env.payload
    known = await repository_digests.officials(conn, lead.desa_code)
    orders = [[Route(r["channel"], r["address"]) for r in routes] for routes in known]
    if not orders:
        disnaker = replies.disnaker_contact(lead, deps.settings.disnaker_contact_of, deps.regions)
        try:
            orders = [nominator_routes(disnaker, deps.policy)] if disnaker else []
        except InvalidAddress:
            orders = []
        LEADS_WITHOUT_OFFICIAL.labels("disnaker" if orders else "none").inc()
        if not orders:
            log.warning("lead without an official to tell", lead_id=str(lead.lead_id), desa_code=lead.desa_code)
    variables = replies.lead_variables(lead, deps.regions)
    version = TEMPLATE_VERSIONS[LEAD]
    rows = []
    for order in orders:
        rendered = [messages.rendered_route(LEAD, version, variables, r, deps.whatsapp_prefix) for r in order]
        delivery_id = replies.lead_delivery_id(lead.lead_id, order[0].address)
        rows.append(
            NewDelivery(
                id=delivery_id,
                event_id=delivery_id,  # one per (lead, official): the event id alone would allow one recipient
                nomination_id=lead.lead_id,  # not a nomination: the lead (the purpose says so)
                person_key=env.person_key,
                purpose=LEAD,
                recipient_role="nominator",
                channel=order[0].channel,
                address=order[0].address,
                template=LEAD,
                template_version=version,
                body=rendered[0]["body"],
                failure=None,
                routes=rendered,
            )
        )
    return rows
