"""What the HTTP API reads, one handler per query; a read of personal data is audited in its transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from services.enrolment import domain
from services.enrolment.commands import (
    CheckEnrolled,
    GetBudget,
    GetEnrolment,
    ListChanges,
    ListFundingSources,
    WaitlistSummary,
)
from services.enrolment.repository import reads
from shared import audit
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps


@dataclass(frozen=True)
class Enrolment:
    """The latest seat of a nomination (any status), else its current place on the waitlist, else neither."""

    seat: asyncpg.Record | None
    waiting: asyncpg.Record | None


@dataclass(frozen=True)
class BudgetLine:
    """One funding source's budget of a year: allocated versus committed, month by month."""

    code: str
    name: str
    quota: int
    premium_idr: int
    pending_bpjs: int
    months: list[domain.BudgetMonth]
    committed_idr: int
    allocated_idr: int
    absorption_pct: float


async def funding_sources(
    _deps: Deps, conn: Conn, cmd: ListFundingSources
) -> Handled[list[tuple[asyncpg.Record, domain.Figures]]]:
    rows = await reads.funding_sources(conn, cmd.programme_year)
    return Handled([(r, domain.figures(r["quota"], r["used"], r["premium_idr"])) for r in rows])


async def enrolment(_deps: Deps, conn: Conn, cmd: GetEnrolment) -> Handled[Enrolment]:
    """A membership number is personal data: every read is audited with the caller."""
    await audit.record(conn, cmd.caller, "enrolment.read", cmd.nomination_id)
    seat = await reads.find_seat(conn, cmd.nomination_id)
    waiting = None if seat is not None else await reads.find_waitlisted(conn, cmd.nomination_id)
    return Handled(Enrolment(seat, waiting))


async def changes(_deps: Deps, conn: Conn, cmd: ListChanges) -> Handled[list[asyncpg.Record]]:
    await audit.record(conn, cmd.caller, "enrolment.changes_read", cmd.nomination_id)
    return Handled(await reads.changes_of(conn, cmd.nomination_id))


async def waitlist_summary(_deps: Deps, conn: Conn, _cmd: WaitlistSummary) -> Handled[list[asyncpg.Record]]:
    return Handled(await reads.waitlist_summary(conn))


async def budget(_deps: Deps, conn: Conn, cmd: GetBudget) -> Handled[list[BudgetLine]]:
    """A month counts a seat covered for at least one day of it (contributions are paid per calendar month);
    seats still waiting for BPJS are counted apart (``pending_bpjs``), not committed."""
    year = cmd.programme_year
    coverage = await reads.coverage_by_source(conn, year)
    pending = await reads.pending_by_source(conn, year)
    lines = []
    for r in await reads.funding_sources(conn, year):
        months = domain.budget_months(r["quota"], r["premium_idr"], year, coverage.get(r["code"], []))
        committed = sum(m.committed_idr for m in months)
        allocated = sum(m.allocated_idr for m in months)
        lines.append(
            BudgetLine(
                code=r["code"],
                name=r["name"],
                quota=r["quota"],
                premium_idr=r["premium_idr"],
                pending_bpjs=pending.get(r["code"], 0),
                months=months,
                committed_idr=committed,
                allocated_idr=allocated,
                absorption_pct=round(100 * committed / allocated, 2) if allocated else 0.0,
            )
        )
    return Handled(lines)


async def check_enrolled(deps: Deps, conn: Conn, cmd: CheckEnrolled) -> Handled[asyncpg.Record | None]:
    """The seat covering the NIK today, if the caller asks about this programme; every answer is audited (yes/no
    and the transaction id; the seat's nomination id as subject when yes; never the NIK)."""
    today = datetime.now(domain.WITA).date()  # coverage days are counted in WITA, like everywhere in enrolment
    ours = cmd.programme in (None, deps.settings.dci_programme_id)
    seat = await reads.covering_seat(conn, cmd.nik, today) if ours else None
    detail = {"enrolled": "yes" if seat else "no", "transaction_id": cmd.transaction_id}
    if seat is not None:
        detail["programme_year"] = seat["programme_year"]
    await audit.record(conn, cmd.caller, "enrolment.checked", seat["nomination_id"] if seat else None, detail)
    return Handled(seat)
