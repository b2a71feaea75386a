"""Claim reminders: members are told how to claim (JKK after a work accident, JKM for the family) at cover start and
once a year on the anniversary of their cover start, while covered. Pure functions only (docs/outreach.md).

- **At cover start**: a second message beside the confirmation, for a member's first confirmation of a programme
  year (the confirmation's own "told once" rule). A seat *restored* by an upheld objection gets none: the member
  was told how to claim when the cover first started, and the restoration message says the cover is back. A seat
  *promoted* from the waitlist does get one: it is that person's first cover.
- **Yearly**: on each anniversary of ``coverage_start`` (29 February: 28 February in a common year) while the member
  is covered. A member whose cover ended (``ended_on`` set, the last day covered) on or before the anniversary is
  not reminded; the family message on a death is the death's own (``death_benefit_information``). A service that was
  down on the day reminds up to ``CATCH_UP_DAYS`` late, never twice for one anniversary.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date, timedelta
from typing import Any

from services.notification.domain.plan import DELIVERY_NAMESPACE, Planned, delivery_id
from services.notification.domain.routes import ChannelPolicy, Route, beneficiary_routes
from services.notification.domain.texts import BPJS_CALL_CENTRE, JKM_DEATH_BENEFIT, TEMPLATE_VERSIONS
from services.notification.errors import InvalidAddress
from shared.contracts import EnrolmentConfirmed
from shared.formats import Purpose

PURPOSE: Purpose = "claim_reminder"
CATCH_UP_DAYS = 30


def anniversary(start: date, year: int) -> date:
    """``start``'s anniversary in ``year`` (29 February falls on 28 February in a common year)."""
    if start.month == 2 and start.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return start.replace(year=year)


def due_anniversary(
    coverage_start: date, last_reminded_on: date | None, ended_on: date | None, today: date
) -> date | None:
    """The anniversary a yearly reminder is due for on ``today``, or None (see the module docstring)."""
    for year in (today.year, today.year - 1):
        if year <= coverage_start.year:
            continue
        day = anniversary(coverage_start, year)
        if not day <= today < day + timedelta(days=CATCH_UP_DAYS + 1):
            continue
        if ended_on is not None and ended_on <= day:
            return None
        if last_reminded_on is not None and last_reminded_on >= day:
            return None
        return day
    return None


def at_cover_start(payload: EnrolmentConfirmed) -> bool:
    """Whether a confirmation also plans the how-to-claim message (not for a seat restored by an objection)."""
    return payload.restored_by_objection is None


def cover_start(event_id: uuid.UUID, payload: EnrolmentConfirmed, policy: ChannelPolicy) -> Planned:
    """The how-to-claim message planned beside a confirmation, to the member's phone (failed at once without one:
    the confirmation's own note to the nominator covers an unusable number)."""
    routes: list[Route] = []
    failure: InvalidAddress | None = None
    try:
        routes = beneficiary_routes(payload.phone, policy)
    except InvalidAddress as exc:
        failure = exc
    return Planned(
        delivery_id=delivery_id(event_id, "beneficiary", PURPOSE),
        purpose=PURPOSE,
        recipient_role="beneficiary",
        template=PURPOSE,
        template_version=TEMPLATE_VERSIONS[PURPOSE],
        variables=variables(payload.membership_number, payload.coverage_start, yearly=False),
        routes=tuple(routes),
        failure=failure.cause if failure else None,
        intended_channel=routes[0].channel if routes else failure.channel if failure else None,
    )


def reminder_id(nomination_id: uuid.UUID, on: date) -> uuid.UUID:
    """Stable per (member, anniversary): a rerun of the job makes the same delivery."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"claim/{nomination_id}/{on.isoformat()}")


def variables(membership_number: str, coverage_start: date, yearly: bool) -> dict[str, Any]:
    return {
        "membership_number": membership_number,
        "coverage_start": coverage_start,
        "yearly": yearly,
        "jkm_benefit": JKM_DEATH_BENEFIT,
        "call_centre": BPJS_CALL_CENTRE,
    }
