"""Reading nominations: one with its history, the summaries, the portal's list of an area's nominations and a
rejected request to correct. Every read of personal data is audited in its transaction; outside the caller's area
a nomination is answered as absent (handlers/access.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from services.nomination import domain
from services.nomination.commands import ListNominations, ReadNomination, ReadRejectedRequest, Summarise
from services.nomination.handlers import access
from services.nomination.repository import nominations, portal
from shared import audit
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


@dataclass(frozen=True)
class Found:
    nomination: asyncpg.Record
    history: list[asyncpg.Record]


async def read(deps: Deps, conn: Conn, cmd: ReadNomination) -> Handled[Found | None]:
    """A nomination and its history for the caller, audited; None when absent or outside the caller's area (an
    official of another area learns nothing, not even that it exists; the denied attempt is audited)."""
    row = await nominations.get(conn, cmd.nomination_id)
    if row is None:
        return Handled(None)
    if not await access.allowed(
        conn, cmd.caller, row["desa_code"], denied="nomination.read_denied", subject=cmd.nomination_id
    ):
        return Handled(None)
    history = await nominations.history(conn, cmd.nomination_id)
    await audit.record(conn, cmd.caller, "nomination.read", cmd.nomination_id)
    return Handled(Found(row, history))


async def summarise(deps: Deps, conn: Conn, cmd: Summarise) -> Handled[dict[str, Any]]:
    """Counts by status, by outcome (with how many were notified) and rejections by reason, of the caller's area."""
    area = cmd.caller.area
    return Handled(
        {
            "area": area,
            "by_status": await nominations.counts_by_status(conn, area),
            "by_outcome": await nominations.counts_by_outcome(conn, area),
            "rejections_by_reason": await nominations.rejection_counts(conn, area),
        }
    )


async def list_in_area(deps: Deps, conn: Conn, cmd: ListNominations) -> Handled[list[asyncpg.Record]]:
    """The caller's area's latest nominations (the portal's list), audited as one row."""
    rows = await portal.list_in_area(conn, cmd.caller.area)
    await audit.record(conn, cmd.caller, "nomination.listed", None, {"area": cmd.caller.area, "count": len(rows)})
    return Handled(rows)


@dataclass(frozen=True)
class NotCorrectable:
    """Only a rejected or refused nomination is corrected and sent again."""


async def rejected_request(
    deps: Deps, conn: Conn, cmd: ReadRejectedRequest
) -> Handled[dict[str, Any] | NotCorrectable | None]:
    """A rejected (or refused) nomination's request, to prefill the corrected resubmission; audited, None when
    absent or outside the caller's area."""
    row = await portal.request_of(conn, cmd.nomination_id)
    if row is None:
        return Handled(None)
    if not await access.allowed(
        conn, cmd.caller, row["desa_code"], denied="nomination.read_denied", subject=cmd.nomination_id
    ):
        return Handled(None)
    if row["outcome"] not in domain.CORRECTABLE:
        return Handled(NotCorrectable())
    await audit.record(conn, cmd.caller, "nomination.request_read", cmd.nomination_id, {"purpose": "resubmission"})
    return Handled({k: v for k, v in row.items() if k not in ("outcome", "desa_code")})
