"""The two steps every seat-changing handler ends with: opening seats and promoting the people waiting.

Both run inside the caller's transaction (a Kafka batch, a request, a job round, a command) after it took the
year's locks, and return the events to publish: a freed seat and the promotion it allows commit together, or not
at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from services.enrolment import domain
from services.enrolment.handlers import events
from services.enrolment.repository import lifecycle as lrepo
from services.enrolment.repository import seats as srepo
from shared import logs
from shared.contracts import Envelope, IdentityVerified
from shared.db import Conn

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class NewSeat:
    nomination_id: uuid.UUID
    nik: str
    person_key: str
    funding_source: str
    programme_year: int
    coverage_start: date
    payload: IdentityVerified
    causation_id: uuid.UUID | None
    promoted: bool
    restored_by: uuid.UUID | None = None  # an upheld objection (sanggahan) gives this seat back
    keep_number: str | None = None  # the restored member's own KPJ number, kept where the issuer is ours


async def open_seats(
    deps: Deps, conn: Conn, new: Sequence[NewSeat], names: dict[str, str], now: datetime
) -> list[Envelope[Any]]:
    """Insert the seats; with the local issuer they are active and confirmed now, else pending BPJS."""
    if not new:
        return []
    numbers: dict[uuid.UUID, str] = {}
    if deps.issuer is not None:
        numbers = {s.nomination_id: s.keep_number for s in new if s.keep_number}
        asked = [membership_request(s) for s in new if not s.keep_number]
        for answer in await deps.issuer.register(conn, asked):
            # The local issuer never refuses: a refusal here is a wiring mistake.
            if not isinstance(answer, domain.Registered):
                raise RuntimeError(f"an immediate gateway refused {answer.nomination_id}")
            numbers[answer.nomination_id] = answer.membership_number
    issuer = deps.issuer.issuer if deps.issuer is not None else "bpjs"
    rows, confirmations = [], []
    for s in new:
        number = numbers.get(s.nomination_id)
        rows.append(
            srepo.SeatRow(
                nomination_id=s.nomination_id,
                nik=s.nik,
                person_key=s.person_key,
                funding_source=s.funding_source,
                programme_year=s.programme_year,
                membership_number=number,
                membership_issuer=issuer,
                coverage_start=s.coverage_start,
                enrolled_at=now,
                status="active" if number else "pending_bpjs",
                confirmed_at=now if number else None,
                promoted=s.promoted,
                payload=s.payload.model_dump(mode="json"),
                restored_by_objection=s.restored_by,
            )
        )
        if number:
            confirmations.append(
                events.confirmed(s.payload, s.person_key, s.funding_source, names, s.programme_year,
                                 s.coverage_start, number, s.promoted, s.causation_id, s.restored_by)
            )  # fmt: skip
    await srepo.insert_seats(conn, rows)
    return confirmations


def membership_request(s: NewSeat) -> domain.MembershipRequest:
    p = s.payload
    return domain.MembershipRequest(
        nomination_id=p.nomination_id,
        nik=p.nik,
        full_name=p.full_name,
        birth_date=p.birth_date,
        sex=p.sex,
        phone=p.phone,
        desa_code=p.desa_code,
        occupation=p.occupation,
        funding_source=s.funding_source,
        programme_year=s.programme_year,
        coverage_start=s.coverage_start,
    )


def request_from_seat(seat: asyncpg.Record) -> domain.MembershipRequest:
    """The registration request of a stored seat (the registrar and the roster export send these)."""
    return membership_request(
        NewSeat(
            nomination_id=seat["nomination_id"],
            nik=seat["nik"],
            person_key=seat["person_key"],
            funding_source=seat["funding_source"],
            programme_year=seat["programme_year"],
            coverage_start=seat["coverage_start"],
            payload=IdentityVerified.model_validate(seat["payload"]),
            causation_id=None,
            promoted=seat["promoted"],
        )
    )


async def promote(
    deps: Deps,
    conn: Conn,
    year: int,
    sources: Sequence[domain.SourceState],
    names: dict[str, str],
    cause: uuid.UUID | None,
    now: datetime,
) -> tuple[list[Envelope[Any]], int]:
    """Give the year's free seats to the people waiting, in arrival order. ``sources``: the year's locked rows,
    with ``used`` as it stands in this transaction. Returns the confirmations to publish (none while seats wait
    for BPJS) and how many people were promoted."""
    settings = deps.settings
    if year == settings.programme_year:
        # Only configured sources give new seats (a source dropped from the configuration keeps its seats).
        configured = {s.code for s in settings.funding_sources}
        sources = [s for s in sources if s.code in configured]
    free = sum(max(s.remaining, 0) for s in sources)
    heads = await lrepo.waiting_heads(conn, year, free)
    seats = domain.promotions(sources, [domain.Waiting(h["nomination_id"], h["position"]) for h in heads])
    if not seats:
        return [], 0
    by_id = {h["nomination_id"]: h for h in heads}
    start = domain.coverage_start(now)
    new = []
    for seat in seats:
        h = by_id[seat.nomination_id]
        new.append(
            NewSeat(seat.nomination_id, h["nik"], h["person_key"], seat.funding_source, year, start,
                    IdentityVerified.model_validate(h["payload"]), cause, promoted=True,
                    restored_by=h["restored_by_objection"], keep_number=h["kept_number"])
        )  # fmt: skip
    confirmations = await open_seats(deps, conn, new, names, now)
    await lrepo.leave_waitlist(conn, [s.nomination_id for s in seats], now)
    taken: dict[str, int] = {}
    for seat in seats:
        taken[seat.funding_source] = taken.get(seat.funding_source, 0) + 1
    await lrepo.add_used(conn, year, taken)
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(s.nomination_id, year, "promoted", None, None, None, "enrolment", cause) for s in seats],
    )
    log.info("promoted from the waitlist", programme_year=year, promoted=len(seats))
    return confirmations, len(seats)
