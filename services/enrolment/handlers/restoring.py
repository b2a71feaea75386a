"""Restoring a member whose cover an upheld objection (sanggahan) says was wrongly ended (``objection.reviewed``).

Only ``upheld`` on ground ``ended`` does anything; ``in_review``, ``dismissed`` and objections about a rejection
(verification re-runs those) are nothing here. The year's funding sources are locked first, as seating does, so
the quotas stay exact with any number of consumers. Then:

- a seat in the current programme year from the source that covered the member if it has room, else the first
  source with room in the programme's order: with our own issuer the member keeps their KPJ number and is
  confirmed now (``EnrolmentConfirmed`` v2 with ``restored_by_objection``); with BPJS the seat waits for BPJS's
  answer like any new seat (BPJS reactivates the same KPJ when it allows), and is confirmed then;
- when every source is full, a waitlist place AHEAD of every regular place: they were wrongly removed, so they
  wait only behind other restored members, in the order of their original seats (``domain.restored_position``).

An end an objection cannot undo (``domain.RESTORABLE``: opted_out, contributions_unpaid, not_renewed) is
recorded and nothing else; so is a member who holds a seat or a place again by now. One remedy per objection
(table ``objection_remedies``): a replay does nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.enrolment import domain
from services.enrolment.errors import FundingSourcesMissing
from services.enrolment.handlers import events
from services.enrolment.handlers.seats import NewSeat, open_seats
from services.enrolment.repository import lifecycle as lrepo
from services.enrolment.repository import remedies as repo
from services.enrolment.repository import seats as srepo
from shared import logs
from shared.contracts import Envelope, IdentityVerified, ObjectionReviewed
from shared.db import Conn

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)

AHEAD_RULE = "wrongly removed: waits ahead of regular places, behind earlier restored seats (original seat order)"


async def objections_reviewed(
    deps: Deps, conn: Conn, batch: Sequence[Envelope[ObjectionReviewed]]
) -> list[Envelope[Any]]:
    """The handler of ``objection.reviewed``."""
    out: list[Envelope[Any]] = []
    for event in batch:
        if event.payload.state == "upheld" and event.payload.ground == "ended":
            out += await restore(deps, conn, event)
    return out


async def restore(deps: Deps, conn: Conn, event: Envelope[ObjectionReviewed]) -> list[Envelope[Any]]:
    p = event.payload
    settings = deps.settings
    year = settings.programme_year
    names = {s.code: s.name for s in settings.funding_sources}
    sources = await srepo.lock_funding_sources(conn, year, [s.code for s in settings.funding_sources])
    if not sources:
        raise FundingSourcesMissing(f"no funding sources for programme year {year} in the database")
    if not await repo.claim(conn, p.objection_id, p.nomination_id, event.event_id):
        return []  # remedied already
    seat = await repo.latest_seat(conn, p.nomination_id)
    if (
        seat is None
        or seat["status"] != "ended"
        or seat["payload"] is None
        or await repo.live_holding(conn, seat["nik"])
    ):
        await repo.settle(conn, p.objection_id, "nothing_to_restore")
        log.info("objection upheld: nothing to restore", nomination_id=str(p.nomination_id))
        return []
    if seat["end_reason"] not in domain.RESTORABLE:
        await repo.settle(conn, p.objection_id, "not_restorable")
        log.info("objection upheld: end not undone", nomination_id=str(p.nomination_id), reason=seat["end_reason"])
        return []
    now = datetime.now(UTC)
    verified = IdentityVerified.model_validate(seat["payload"])
    source = domain.restoration_source(sources, seat["funding_source"])
    if source is None:
        position = domain.restored_position(seat["arrival"])
        rank = await repo.wait_ahead(conn, seat, year, position, p.objection_id, event.event_id, now)
        await _changed(conn, p, year, "restored_waitlisted", event)
        await repo.settle(conn, p.objection_id, "waitlisted", year)
        log.info("objection upheld: waitlisted ahead", nomination_id=str(p.nomination_id), position=rank)
        return [events.waitlisted_person(verified, seat["person_key"], year, rank, event.event_id)]
    new = NewSeat(
        p.nomination_id,
        seat["nik"],
        seat["person_key"],
        source,
        year,
        domain.coverage_start(now),
        verified,
        event.event_id,
        promoted=False,
        restored_by=p.objection_id,
        keep_number=seat["membership_number"],
    )
    confirmations = await open_seats(deps, conn, [new], names, now)
    await lrepo.add_used(conn, year, {source: 1})
    await _changed(conn, p, year, "restored", event)
    await repo.settle(conn, p.objection_id, "restored", year, source)
    log.info("objection upheld: seat restored", nomination_id=str(p.nomination_id), funding_source=source)
    return confirmations


async def _changed(conn: Conn, p: ObjectionReviewed, year: int, change: str, event: Envelope[Any]) -> None:
    note = f"objection {p.objection_id} upheld"
    if change == "restored_waitlisted":  # the fairness rule, stated where the place is recorded
        note += f"; {AHEAD_RULE}"
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(p.nomination_id, year, change, p.reason_code, None, note, "verification", event.event_id)],
    )
