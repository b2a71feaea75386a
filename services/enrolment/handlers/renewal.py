"""Yearly renewal: the roster of one programme year rolls into the next (``renew --from-year Y --to-year Y+1``).

What renewal re-checks, and what it does not: it does NOT query the civil registry itself. People who died or
moved out of the regency are found by the registry refreshes of the verification service, which publish
``registry.person_updated``; those life events have already ended their seats (and freed them) before renewal
runs. Renewal takes the seats that are still ``active`` at that moment, so the roster it rolls over is the one
the registry refreshes left standing. Run a registry refresh before renewing.

One transaction: the old year's seats become ``renewed`` (covered to 31 December), the new year's rows keep the
membership number; people beyond the new year's quotas get ``EnrolmentEnded`` (reason ``not_renewed``); the old
year's waitlist moves to the new year in its arrival order, and free seats go to it. Running it twice renews
nothing twice: the second run finds no active seats left in the old year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from services.enrolment import domain
from services.enrolment.commands import Renew, SyncFundingSources
from services.enrolment.errors import RenewalRefused
from services.enrolment.handlers import events
from services.enrolment.handlers.funding import sync_funding_sources
from services.enrolment.handlers.seats import promote
from services.enrolment.repository import lifecycle as lrepo
from shared import logs, messaging
from shared.contracts import Envelope
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class RenewalResult:
    renewed: int
    not_renewed: int
    waitlist_carried: int
    promoted: int


async def renew(deps: Deps, cmd: Renew) -> RenewalResult:
    """Check the years, sync the new year's funding sources (a transaction of its own), then roll over."""
    settings = deps.settings
    if cmd.to_year != cmd.from_year + 1:
        raise RenewalRefused(f"renewal goes from one year to the next, not {cmd.from_year} to {cmd.to_year}")
    if settings.programme_year != cmd.to_year:
        # The new year's funding sources are configuration: the service must be configured for that year.
        raise RenewalRefused(
            f"PAYUNG_PROGRAMME_YEAR is {settings.programme_year}: configure {cmd.to_year} and its funding sources first"
        )
    await messaging.run(deps, sync_funding_sources, SyncFundingSources())
    result = await messaging.run(deps, roll_over, cmd)
    log.info("renewal done", from_year=cmd.from_year, to_year=cmd.to_year, **vars(result))
    return result


async def roll_over(deps: Deps, conn: Conn, cmd: Renew) -> Handled[RenewalResult]:
    """The renewal's one transaction (see the module's docstring)."""
    from_year, to_year = cmd.from_year, cmd.to_year
    now = datetime.now(UTC)
    # Years in ascending order, as everywhere: no deadlock with batches, answers or ends.
    await lrepo.lock_year(conn, from_year)
    sources, names = await lrepo.lock_year(conn, to_year)
    pending = await lrepo.count_pending(conn, from_year)
    if pending:
        raise RenewalRefused(f"{pending} seats of {from_year} still wait for BPJS: import its answers first")
    seats = await lrepo.renewable_seats(conn, from_year)
    configured = {s.code for s in deps.settings.funding_sources}
    plan = domain.plan_renewal(
        [s for s in sources if s.code in configured],
        [domain.Renewing(s["nomination_id"], s["funding_source"]) for s in seats],
    )
    by_id = {s["nomination_id"]: s for s in seats}
    await lrepo.renew_seats(
        conn, from_year, to_year, {s.nomination_id: s.funding_source for s in plan.renewed}, date(to_year, 1, 1)
    )
    ended = await _not_renewed(conn, [by_id[i] for i in plan.not_renewed], names, from_year)
    left: dict[str, int] = {}
    for seat in seats:
        left[seat["funding_source"]] = left.get(seat["funding_source"], 0) - 1
    await lrepo.add_used(conn, from_year, left)
    taken: dict[str, int] = {}
    for renewed in plan.renewed:
        taken[renewed.funding_source] = taken.get(renewed.funding_source, 0) + 1
    await lrepo.add_used(conn, to_year, taken)
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(s.nomination_id, to_year, "renewed", None, date(to_year, 1, 1), f"from {from_year}",
                         "renewal", None) for s in plan.renewed],
    )  # fmt: skip
    carried = await lrepo.carry_waitlist(conn, from_year, to_year)
    after = [domain.SourceState(s.code, s.quota, s.used + taken.get(s.code, 0), s.priority) for s in sources]
    confirmations, promoted = await promote(deps, conn, to_year, after, names, None, now)
    result = RenewalResult(len(plan.renewed), len(plan.not_renewed), carried, promoted)
    return Handled(result, ended + confirmations)


async def _not_renewed(
    conn: Conn, seats: list[asyncpg.Record], names: dict[str, str], from_year: int
) -> list[Envelope[Any]]:
    end = date(from_year, 12, 31)
    out = []
    for seat in seats:
        await lrepo.end_seat(conn, seat["nomination_id"], from_year, "ended", "not_renewed", end)
        if seat["payload"] is not None:
            out.append(events.ended(seat, names, "not_renewed", end, None))
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(s["nomination_id"], from_year, "ended", "not_renewed", end,
                         "no room in the next year's quotas", "renewal", None) for s in seats],
    )  # fmt: skip
    return out
