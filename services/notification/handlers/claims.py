"""Claim reminders (issue 15, domain/claims.py): the members folded from the enrolment events, the message at cover
start planned beside the confirmation, and the yearly job.

The members table is written in the ``events`` group's transaction (``record``); the cover-start message is one
more delivery of the confirmation's event (``cover_start``), so it is made exactly once with the confirmation. The
yearly job takes covered members in id order, plans the due anniversary's message with a delivery id stable per
(member, anniversary) and marks the member reminded, in one transaction per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.notification.commands import RemindClaims
from services.notification.domain import claims, messages, plan
from services.notification.domain.deliveries import NewDelivery
from services.notification.domain.routes import beneficiary_routes
from services.notification.domain.texts import TEMPLATE_VERSIONS
from services.notification.errors import InvalidAddress
from services.notification.repository import claims as repository
from services.notification.repository import deliveries as repository_deliveries
from shared import messaging
from shared.contracts import EnrolmentConfirmed, EnrolmentEnded, Envelope
from shared.db import Conn
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


async def record(conn: Conn, events: Sequence[Envelope[Any]]) -> None:
    """Fold a batch's confirmations and ends into ``claim_members``."""
    confirmed = [
        (p.nomination_id, e.person_key, p.phone, p.membership_number, p.desa_code, p.coverage_start)
        for e in events
        if isinstance(p := e.payload, EnrolmentConfirmed)
    ]
    ended = [
        (p.nomination_id, e.person_key, p.phone, p.membership_number, p.desa_code, p.coverage_end)
        for e in events
        if isinstance(p := e.payload, EnrolmentEnded)
    ]
    await repository.record_confirmed(conn, confirmed)
    await repository.record_ended(conn, ended)
    await repository.mark_reminded(
        conn, [(e.payload.nomination_id, e.payload.coverage_start) for e in events if _reminds_at_start(e)]
    )


def _reminds_at_start(envelope: Envelope[Any]) -> bool:
    return isinstance(envelope.payload, EnrolmentConfirmed) and claims.at_cover_start(envelope.payload)


def cover_start(deps: Deps, envelope: Envelope[Any]) -> plan.Planned | None:
    """The how-to-claim message beside a confirmation (None for a restored seat or another event)."""
    if not _reminds_at_start(envelope):
        return None
    return claims.cover_start(envelope.event_id, envelope.payload, deps.policy)


async def step(deps: Deps) -> Next:
    today = deps.now().astimezone(deps.digest.zone).date()
    after = None
    while True:
        command = RemindClaims(today=today, after=after, limit=deps.settings.claim_reminder_batch)
        made, after = await messaging.run(deps, remind_due, command)
        if after is None:
            return Next.WAIT
        log.info("claim reminders planned", count=made)


async def remind_due(deps: Deps, conn: Conn, cmd: RemindClaims) -> Handled[tuple[int, Any]]:
    """Plan the due yearly reminders of one batch of members; answers (planned, last id or None when done)."""
    rows = await repository.candidates(conn, cmd.today, cmd.after, cmd.limit)
    version = TEMPLATE_VERSIONS[claims.PURPOSE]
    new, reminded = [], []
    for m in rows:
        due = claims.due_anniversary(m["coverage_start"], m["last_reminded_on"], m["ended_on"], cmd.today)
        if due is None:
            continue
        variables = claims.variables(m["membership_number"], m["coverage_start"], yearly=True)
        try:
            routes = beneficiary_routes(m["phone"], deps.policy)
        except InvalidAddress:
            reminded.append((m["nomination_id"], due))  # nobody to tell this year; the nominator knows already
            continue
        rendered = [
            messages.rendered_route(claims.PURPOSE, version, variables, r, deps.whatsapp_prefix) for r in routes
        ]
        delivery_id = claims.reminder_id(m["nomination_id"], due)
        new.append(
            NewDelivery(
                id=delivery_id, event_id=delivery_id, nomination_id=m["nomination_id"], person_key=m["person_key"],
                purpose=claims.PURPOSE, recipient_role="beneficiary", channel=routes[0].channel,
                address=routes[0].address, template=claims.PURPOSE, template_version=version,
                body=rendered[0]["body"], failure=None, routes=rendered, desa_code=m["desa_code"],
            )
        )  # fmt: skip
        reminded.append((m["nomination_id"], due))
    if await repository_deliveries.insert_deliveries(conn, new):
        await repository_deliveries.wake_dispatcher(conn)
    await repository.mark_reminded(conn, reminded)
    last = rows[-1]["nomination_id"] if len(rows) == cmd.limit else None
    return Handled((len(new), last))
