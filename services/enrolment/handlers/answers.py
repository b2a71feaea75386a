"""BPJS's answers for seats waiting as ``pending_bpjs`` (from the registrar's HTTP round or a response file)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.enrolment import domain
from services.enrolment.commands import ApplyAnswers
from services.enrolment.handlers import events
from services.enrolment.handlers.seats import promote
from services.enrolment.repository import lifecycle as lrepo
from shared.contracts import Envelope, IdentityVerified
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps


@dataclass
class AnswerResult:
    confirmed: int = 0
    refused: int = 0
    skipped: list[uuid.UUID] = field(default_factory=list)  # no seat waiting for BPJS under that reference


async def apply_answers(deps: Deps, conn: Conn, cmd: ApplyAnswers) -> Handled[AnswerResult]:
    """Confirm (EnrolmentConfirmed with BPJS's number) or refuse (seat freed, next person promoted) pending seats.

    Answers for seats no longer pending (already answered, ended meanwhile, unknown) are skipped: importing the
    same response file twice changes nothing.
    """
    now = datetime.now(UTC)
    result = AnswerResult()
    ids = [a.nomination_id for a in cmd.answers]
    years = sorted({r["programme_year"] for r in await lrepo.pending_seats_unlocked(conn, ids)})
    locked = {year: await lrepo.lock_year(conn, year) for year in years}
    seats = {s["nomination_id"]: s for s in await lrepo.pending_seats(conn, ids)}
    out: list[Envelope[Any]] = []
    freed: dict[int, dict[str, int]] = {}
    changes = []
    for answer in cmd.answers:
        seat = seats.pop(answer.nomination_id, None)
        if seat is None or seat["programme_year"] not in locked:
            result.skipped.append(answer.nomination_id)
            continue
        year = seat["programme_year"]
        names = locked[year][1]
        payload = IdentityVerified.model_validate(seat["payload"])
        if isinstance(answer, domain.Registered):
            await lrepo.confirm_seat(conn, answer.nomination_id, year, answer.membership_number, "bpjs")
            out.append(
                events.confirmed(payload, seat["person_key"], seat["funding_source"], names, year,
                                 seat["coverage_start"], answer.membership_number, seat["promoted"], None,
                                 seat["restored_by_objection"])
            )  # fmt: skip
            changes.append(
                lrepo.ChangeRow(answer.nomination_id, year, "confirmed", None, None, None, cmd.recorded_by, None)
            )
            result.confirmed += 1
        else:
            await lrepo.refuse_seat(conn, answer.nomination_id, year, answer.code, answer.reason)
            out.append(events.refused(payload, seat["person_key"], year, answer))
            by_source = freed.setdefault(year, {})
            by_source[seat["funding_source"]] = by_source.get(seat["funding_source"], 0) + 1
            changes.append(
                lrepo.ChangeRow(answer.nomination_id, year, "refused", answer.code, None, answer.reason,
                                cmd.recorded_by, None)
            )  # fmt: skip
            result.refused += 1
    await lrepo.insert_changes(conn, changes)
    for year, by_source in freed.items():
        await lrepo.add_used(conn, year, {code: -n for code, n in by_source.items()})
        sources = locked[year][0]
        for code, n in by_source.items():
            sources = domain.freed(sources, code, n)
        out += (await promote(deps, conn, year, sources, locked[year][1], None, now))[0]
    return Handled(result, out)
