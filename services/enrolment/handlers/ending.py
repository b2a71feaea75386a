"""Ending a person's cover: Disnaker's request (``POST /v1/enrolments/{id}/end``) and the civil registry's life
events (``registry.person_updated``). Either frees the seat for the next person waiting, in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from services.enrolment import domain
from services.enrolment.commands import EndEnrolment
from services.enrolment.handlers import events
from services.enrolment.handlers.seats import promote
from services.enrolment.repository import lifecycle as lrepo
from shared import audit, logs
from shared.contracts import EndReason, Envelope, RegistryPersonUpdated
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class EndRequest:
    nomination_id: uuid.UUID
    reason: EndReason
    effective_date: date
    recorded_by: str  # operator id, or "registry:<snapshot>"
    note: str | None = None
    cause: Envelope[Any] | None = None  # the event that reported it, if any


EndOutcome = Literal["ended", "removed_from_waitlist", "nothing_to_end"]


@dataclass(frozen=True)
class EndResult:
    outcome: EndOutcome
    coverage_end: date | None = None


async def end_enrolment(deps: Deps, conn: Conn, cmd: EndEnrolment) -> Handled[EndResult]:
    """Disnaker records that a person left the programme; who recorded it is the authenticated caller."""
    request = EndRequest(cmd.nomination_id, cmd.reason, cmd.effective_date, cmd.caller.name, cmd.note)
    handled = await end(deps, conn, request)
    if handled.answer.outcome != "nothing_to_end":
        await audit.record(conn, cmd.caller, "enrolment.ended", cmd.nomination_id, {"reason": cmd.reason})
    return handled


async def registry_person_updated(
    deps: Deps, conn: Conn, batch: Sequence[Envelope[RegistryPersonUpdated]]
) -> list[Envelope[Any]]:
    """The handler of ``registry.person_updated``: life events reported by a civil-registry refresh.

    deceased: coverage ends on the date of death; moved_out: at the end of that month (a person waiting is taken
    off the waitlist instead). inactive: recorded for Disnaker to look at, coverage goes on (docs/enrolment.md).
    """
    out: list[Envelope[Any]] = []
    for event in batch:
        p = event.payload
        recorded_by = f"registry:snapshot-{p.snapshot_id}"
        if p.change == "inactive":
            await _flag_inactive(conn, event, recorded_by)
            continue
        handled = await end(
            deps, conn, EndRequest(p.nomination_id, p.change, p.effective_date, recorded_by, cause=event)
        )
        out += handled.events
        log.info("registry life event applied", nomination_id=str(p.nomination_id), change=p.change,
                 outcome=handled.answer.outcome)  # fmt: skip
    return out


async def end(deps: Deps, conn: Conn, req: EndRequest) -> Handled[EndResult]:
    """End a person's live seat (freeing it for the next person waiting) or take them off the waitlist."""
    now = datetime.now(UTC)
    cause_id = req.cause.event_id if req.cause is not None else None
    seat = await lrepo.live_seat(conn, req.nomination_id, lock=False)
    if seat is None:
        return Handled(await _leave_waitlist(conn, req, now, cause_id))
    year = seat["programme_year"]
    sources, names = await lrepo.lock_year(conn, year)
    seat = await lrepo.live_seat(conn, req.nomination_id, lock=True)  # re-read under the lock
    if seat is None or seat["programme_year"] != year:
        return Handled(EndResult("nothing_to_end"))

    end_date = domain.coverage_end(req.reason, req.effective_date)
    out: list[Envelope[Any]] = []
    # Only a covered person (BPJS confirmed) is told that cover ends: a pending seat was never announced.
    if seat["status"] == "active" and seat["payload"] is not None:
        out.append(events.ended(seat, names, req.reason, end_date, cause_id))
    elif seat["status"] == "active":
        log.warning("seat without stored payload ended silently", nomination_id=str(req.nomination_id))

    await lrepo.end_seat(conn, req.nomination_id, year, "ended", req.reason, end_date)
    await lrepo.add_used(conn, year, {seat["funding_source"]: -1})
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(req.nomination_id, year, "ended", req.reason, req.effective_date, req.note,
                         req.recorded_by, cause_id)],
    )  # fmt: skip
    freed = domain.freed(sources, seat["funding_source"])
    out += (await promote(deps, conn, year, freed, names, cause_id, now))[0]
    log.info("enrolment ended", nomination_id=str(req.nomination_id), reason=req.reason, programme_year=year)
    return Handled(EndResult("ended", end_date), out)


async def _leave_waitlist(conn: Conn, req: EndRequest, now: datetime, cause_id: uuid.UUID | None) -> EndResult:
    entry = await lrepo.waiting_entry(conn, req.nomination_id)
    if entry is None:
        return EndResult("nothing_to_end")
    year = entry["programme_year"]
    await lrepo.lock_year(conn, year)  # waitlist_years is written under the year's locks
    if not await lrepo.leave_waitlist(conn, [req.nomination_id], now, removal_reason=req.reason):
        return EndResult("nothing_to_end")
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(req.nomination_id, year, "waitlist_removed", req.reason, req.effective_date, req.note,
                         req.recorded_by, cause_id)],
    )  # fmt: skip
    return EndResult("removed_from_waitlist")


async def _flag_inactive(conn: Conn, event: Envelope[RegistryPersonUpdated], recorded_by: str) -> None:
    p = event.payload
    seat = await lrepo.live_seat(conn, p.nomination_id, lock=False)
    year = seat["programme_year"] if seat is not None else 0
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(p.nomination_id, year, "flagged", "inactive", p.effective_date,
                         "NIK inactive in the civil registry: Disnaker to check", recorded_by, event.event_id)],
    )  # fmt: skip
    log.warning("registry reports an inactive NIK", nomination_id=str(p.nomination_id), has_seat=seat is not None)
