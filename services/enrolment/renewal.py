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
from typing import Any

import asyncpg

from services.enrolment import domain, handlers, lifecycle
from services.enrolment import repository_lifecycle as lrepo
from shared import logs, outbox
from shared.contracts import Envelope
from shared.db import Conn

log = logs.get_logger(__name__)


class RenewalRefused(domain.EnrolmentError):
    """Renewal cannot run as asked (wrong years, seats still waiting for BPJS)."""


@dataclass(frozen=True)
class RenewalResult:
    renewed: int
    not_renewed: int
    waitlist_carried: int
    promoted: int


async def renew(pool: asyncpg.Pool, seating: lifecycle.Seating, from_year: int, to_year: int) -> RenewalResult:
    settings = seating.settings
    if to_year != from_year + 1:
        raise RenewalRefused(f"renewal goes from one year to the next, not {from_year} to {to_year}")
    if settings.programme_year != to_year:
        # The new year's funding sources are configuration: the service must be configured for that year.
        raise RenewalRefused(
            f"PAYUNG_PROGRAMME_YEAR is {settings.programme_year}: configure {to_year} and its funding sources first"
        )
    await handlers.sync_funding_sources(pool, settings)
    now = datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        # Years in ascending order, as everywhere: no deadlock with batches, answers or ends.
        await lrepo.lock_year(conn, from_year)
        sources, names = await lrepo.lock_year(conn, to_year)
        pending = await lrepo.count_pending(conn, from_year)
        if pending:
            raise RenewalRefused(f"{pending} seats of {from_year} still wait for BPJS: import its answers first")
        seats = await lrepo.renewable_seats(conn, from_year)
        configured = {s.code for s in settings.funding_sources}
        plan = domain.plan_renewal(
            [s for s in sources if s.code in configured],
            [domain.Renewing(s["nomination_id"], s["funding_source"]) for s in seats],
        )
        by_id = {s["nomination_id"]: s for s in seats}
        await lrepo.renew_seats(
            conn, from_year, to_year, {s.nomination_id: s.funding_source for s in plan.renewed}, date(to_year, 1, 1)
        )
        events = await _not_renewed(conn, [by_id[i] for i in plan.not_renewed], names, from_year)
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
        confirmations, promoted = await lifecycle.promote(conn, seating, to_year, after, names, None, now)
        await outbox.add_events(conn, events + confirmations, settings.topic_prefix)
    result = RenewalResult(len(plan.renewed), len(plan.not_renewed), carried, promoted)
    log.info("renewal done", from_year=from_year, to_year=to_year, **vars(result))
    return result


async def _not_renewed(
    conn: Conn, seats: list[asyncpg.Record], names: dict[str, str], from_year: int
) -> list[Envelope[Any]]:
    end = date(from_year, 12, 31)
    events = []
    for seat in seats:
        await lrepo.end_seat(conn, seat["nomination_id"], from_year, "ended", "not_renewed", end)
        if seat["payload"] is not None:
            events.append(lifecycle.ended_event(seat, names, "not_renewed", end, None))
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(s["nomination_id"], from_year, "ended", "not_renewed", end,
                         "no room in the next year's quotas", "renewal", None) for s in seats],
    )  # fmt: skip
    return events
