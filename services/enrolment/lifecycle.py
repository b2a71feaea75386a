"""A seat's life after allocation: opening seats, BPJS answers, ending coverage, promotion from the waitlist.

Every function here runs inside its caller's transaction (a Kafka batch, an HTTP request, a command) and returns
or writes outbox events in it: a freed seat and the promotion it allows commit together, or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg

from services.enrolment import domain, repository
from services.enrolment import repository_lifecycle as lrepo
from services.enrolment.bpjs import Answer, BpjsGateway, LocalNumberIssuer, MembershipRequest, Refused, Registered
from services.enrolment.settings import EnrolmentSettings
from shared import logs, outbox
from shared.contracts import (
    EndReason,
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    Envelope,
    IdentityVerified,
    new_envelope,
)
from shared.db import Conn

log = logs.get_logger(__name__)
PRODUCER = "enrolment"


@dataclass(frozen=True)
class Seating:
    """How new seats get their number: ``gateway`` set = right away in the same transaction (the local issuer);
    None = the seat waits as ``pending_bpjs`` for BPJS's answer (HTTP registrar or response file)."""

    settings: EnrolmentSettings
    gateway: BpjsGateway | None


def seating_for(settings: EnrolmentSettings) -> Seating:
    """The seating of the configured adapter: ``local`` issues at once; ``http`` and ``file`` wait for BPJS."""
    return Seating(settings, LocalNumberIssuer() if settings.bpjs_adapter == "local" else None)


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


async def open_seats(
    conn: Conn, seating: Seating, new: Sequence[NewSeat], names: dict[str, str], now: datetime
) -> list[Envelope[Any]]:
    """Insert the seats; with an immediate gateway they are active and confirmed now, else pending BPJS."""
    if not new:
        return []
    numbers: dict[uuid.UUID, str] = {}
    if seating.gateway is not None:
        answers = await seating.gateway.register(conn, [membership_request(s) for s in new])
        for answer in answers:
            # Only the local issuer is immediate, and it never refuses: a refusal here is a wiring mistake.
            if not isinstance(answer, Registered):
                raise RuntimeError(f"an immediate gateway refused {answer.nomination_id}")
            numbers[answer.nomination_id] = answer.membership_number
    issuer = seating.gateway.issuer if seating.gateway is not None else "bpjs"
    rows, events = [], []
    for s in new:
        number = numbers.get(s.nomination_id)
        rows.append(
            repository.SeatRow(
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
            )
        )
        if number:
            events.append(
                _confirmed(s.payload, s.person_key, s.funding_source, names, s.programme_year, s.coverage_start,
                           number, s.promoted, s.causation_id)
            )  # fmt: skip
    await repository.insert_seats(conn, rows)
    return events


def membership_request(s: NewSeat) -> MembershipRequest:
    p = s.payload
    return MembershipRequest(
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


def request_from_seat(seat: asyncpg.Record) -> MembershipRequest:
    """The registration request of a stored seat (the registrar and the roster export send these)."""
    return membership_request(_new_seat_from_row(seat))


def _new_seat_from_row(seat: asyncpg.Record) -> NewSeat:
    return NewSeat(
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


def _confirmed(
    p: IdentityVerified,
    person_key: str,
    source: str,
    names: dict[str, str],
    year: int,
    start: date,
    number: str,
    promoted: bool,
    cause: uuid.UUID | None,
) -> Envelope[Any]:
    payload = EnrolmentConfirmed(
        nomination_id=p.nomination_id,
        membership_number=number,
        funding_source=source,
        funding_source_name=names.get(source, source),
        programme_year=year,
        coverage_start=start,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
        promoted_from_waitlist=promoted,
    )
    return new_envelope(
        payload, producer=PRODUCER, person_key=person_key, correlation_id=p.nomination_id, causation_id=cause
    )


def _refused(p: IdentityVerified, person_key: str, year: int, answer: Refused) -> Envelope[Any]:
    payload = EnrolmentRefused(
        nomination_id=p.nomination_id,
        programme_year=year,
        refusal_code=answer.code,
        refusal_reason=answer.reason,
        full_name=p.full_name,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    return new_envelope(payload, producer=PRODUCER, person_key=person_key, correlation_id=p.nomination_id)


# --- promotion ----------------------------------------------------------------------------------------------------


async def promote(
    conn: Conn,
    seating: Seating,
    year: int,
    sources: Sequence[domain.SourceState],
    names: dict[str, str],
    cause: uuid.UUID | None,
    now: datetime,
) -> tuple[list[Envelope[Any]], int]:
    """Give the year's free seats to the people waiting, in arrival order. ``sources``: the year's locked rows,
    with ``used`` as it stands in this transaction. Returns the confirmations to publish (none while seats wait
    for BPJS) and how many people were promoted."""
    if year == seating.settings.programme_year:
        # Only configured sources give new seats (a source dropped from the configuration keeps its seats).
        configured = {s.code for s in seating.settings.funding_sources}
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
                    IdentityVerified.model_validate(h["payload"]), cause, promoted=True)
        )  # fmt: skip
    events = await open_seats(conn, seating, new, names, now)
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
    return events, len(seats)


def _freed(sources: Sequence[domain.SourceState], code: str, n: int = 1) -> list[domain.SourceState]:
    return [replace(s, used=s.used - n) if s.code == code else s for s in sources]


# --- ending coverage ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndRequest:
    nomination_id: uuid.UUID
    reason: EndReason
    effective_date: date
    recorded_by: str  # operator id, or "registry:<snapshot>"
    note: str | None = None
    cause: Envelope[Any] | None = None  # the event that reported it, if any


EndOutcome = Literal["ended", "removed_from_waitlist", "nothing_to_end"]


@dataclass
class EndResult:
    outcome: EndOutcome
    coverage_end: date | None = None
    events: list[Envelope[Any]] = field(default_factory=list)


async def end_enrolment(conn: Conn, seating: Seating, req: EndRequest) -> EndResult:
    """End a person's live seat (freeing it for the next person waiting) or take them off the waitlist."""
    now = datetime.now(UTC)
    cause_id = req.cause.event_id if req.cause is not None else None
    seat = await lrepo.live_seat(conn, req.nomination_id, lock=False)
    if seat is None:
        return await _leave_waitlist(conn, req, now, cause_id)
    year = seat["programme_year"]
    sources, names = await lrepo.lock_year(conn, year)
    seat = await lrepo.live_seat(conn, req.nomination_id, lock=True)  # re-read under the lock
    if seat is None or seat["programme_year"] != year:
        return EndResult("nothing_to_end")
    end = domain.coverage_end(req.reason, req.effective_date)
    await lrepo.end_seat(conn, req.nomination_id, year, "ended", req.reason, end)
    await lrepo.add_used(conn, year, {seat["funding_source"]: -1})
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(req.nomination_id, year, "ended", req.reason, req.effective_date, req.note,
                         req.recorded_by, cause_id)],
    )  # fmt: skip
    events: list[Envelope[Any]] = []
    # Only a covered person (BPJS confirmed) is told that cover ends: a pending seat was never announced.
    if seat["status"] == "active" and seat["payload"] is not None:
        events.append(ended_event(seat, names, req.reason, end, cause_id))
    elif seat["status"] == "active":
        log.warning("seat without stored payload ended silently", nomination_id=str(req.nomination_id))
    events += (await promote(conn, seating, year, _freed(sources, seat["funding_source"]), names, cause_id, now))[0]
    await outbox.add_events(conn, events, seating.settings.topic_prefix)
    log.info("enrolment ended", nomination_id=str(req.nomination_id), reason=req.reason, programme_year=year)
    return EndResult("ended", end, events)


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


def ended_event(
    seat: asyncpg.Record, names: dict[str, str], reason: EndReason, end: date, cause: uuid.UUID | None
) -> Envelope[Any]:
    p = IdentityVerified.model_validate(seat["payload"])
    payload = EnrolmentEnded(
        nomination_id=seat["nomination_id"],
        membership_number=seat["membership_number"],
        funding_source=seat["funding_source"],
        programme_year=seat["programme_year"],
        reason=reason,
        coverage_end=end,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    return new_envelope(
        payload, producer=PRODUCER, person_key=seat["person_key"], correlation_id=p.nomination_id, causation_id=cause
    )


# --- BPJS answers -------------------------------------------------------------------------------------------------


@dataclass
class AnswerResult:
    confirmed: int = 0
    refused: int = 0
    skipped: list[uuid.UUID] = field(default_factory=list)  # no seat waiting for BPJS under that reference


async def apply_answers(conn: Conn, seating: Seating, answers: Sequence[Answer], recorded_by: str) -> AnswerResult:
    """Confirm (EnrolmentConfirmed with BPJS's number) or refuse (seat freed, next person promoted) pending seats.

    Answers for seats no longer pending (already answered, ended meanwhile, unknown) are skipped: importing the
    same response file twice changes nothing.
    """
    now = datetime.now(UTC)
    result = AnswerResult()
    ids = [a.nomination_id for a in answers]
    years = sorted({r["programme_year"] for r in await lrepo.pending_seats_unlocked(conn, ids)})
    locked = {year: await lrepo.lock_year(conn, year) for year in years}
    seats = {s["nomination_id"]: s for s in await lrepo.pending_seats(conn, ids)}
    events: list[Envelope[Any]] = []
    freed: dict[int, dict[str, int]] = {}
    changes = []
    for answer in answers:
        seat = seats.pop(answer.nomination_id, None)
        if seat is None or seat["programme_year"] not in locked:
            result.skipped.append(answer.nomination_id)
            continue
        year = seat["programme_year"]
        names = locked[year][1]
        if isinstance(answer, Registered):
            await lrepo.confirm_seat(conn, answer.nomination_id, year, answer.membership_number, "bpjs")
            events.append(
                _confirmed(IdentityVerified.model_validate(seat["payload"]), seat["person_key"],
                           seat["funding_source"], names, year, seat["coverage_start"], answer.membership_number,
                           seat["promoted"], None)
            )  # fmt: skip
            changes.append(
                lrepo.ChangeRow(answer.nomination_id, year, "confirmed", None, None, None, recorded_by, None)
            )
            result.confirmed += 1
        elif isinstance(answer, Refused):
            await lrepo.refuse_seat(conn, answer.nomination_id, year, answer.code, answer.reason)
            events.append(_refused(IdentityVerified.model_validate(seat["payload"]), seat["person_key"], year, answer))
            by_source = freed.setdefault(year, {})
            by_source[seat["funding_source"]] = by_source.get(seat["funding_source"], 0) + 1
            changes.append(
                lrepo.ChangeRow(answer.nomination_id, year, "refused", answer.code, None, answer.reason, recorded_by,
                                None)
            )  # fmt: skip
            result.refused += 1
    await lrepo.insert_changes(conn, changes)
    for year, by_source in freed.items():
        await lrepo.add_used(conn, year, {code: -n for code, n in by_source.items()})
        sources = locked[year][0]
        for code, n in by_source.items():
            sources = _freed(sources, code, n)
        events += (await promote(conn, seating, year, sources, locked[year][1], None, now))[0]
    await outbox.add_events(conn, events, seating.settings.topic_prefix)
    return result
