"""Enrolment decisions, pure: who gets a seat from which funding source, who waits, who is a duplicate.

Nothing here does I/O. The handler loads the state (funding sources locked for the batch, the seats and waitlist
entries that concern the batch's people), asks ``allocate`` and saves what it decided.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from shared.errors import PayungError

# Kalimantan Timur keeps WITA (UTC+8) all year, with no daylight saving: a fixed offset is exact.
WITA = timezone(timedelta(hours=8), "WITA")
MEMBERSHIP_NUMBER_DIGITS = 11  # KPJ length by convention (unconfirmed)

DuplicateReason = Literal["nik_holds_seat", "nik_waitlisted", "nomination_already_decided"]


class EnrolmentError(PayungError):
    """Base of the enrolment service's errors."""


class QuotaBelowSeatsTaken(EnrolmentError):
    """The configuration would give a funding source fewer seats than it has already handed out."""


@dataclass(frozen=True)
class SourceState:
    """A funding source of one programme year as the allocation sees it."""

    code: str
    quota: int
    used: int
    priority: int

    @property
    def remaining(self) -> int:
        return self.quota - self.used


@dataclass(frozen=True)
class Request:
    """One verified person asking for a seat, in arrival order."""

    nomination_id: uuid.UUID
    nik: str


@dataclass(frozen=True)
class Holding:
    """What an earlier nomination already holds: a seat or a place on the waitlist."""

    nomination_id: uuid.UUID
    nik: str
    kind: Literal["seat", "waitlist"]


@dataclass(frozen=True)
class Seat:
    nomination_id: uuid.UUID
    funding_source: str


@dataclass(frozen=True)
class Waitlisted:
    nomination_id: uuid.UUID
    position: int  # rank among the people waiting in the programme year, 1 = next in line


@dataclass(frozen=True)
class Duplicate:
    """Nothing is created for this request: the person (or the nomination) is already taken care of."""

    nomination_id: uuid.UUID
    reason: DuplicateReason
    held_by: uuid.UUID  # the nomination holding the seat or waitlist place


Decision = Seat | Waitlisted | Duplicate


@dataclass(frozen=True)
class Allocation:
    decisions: tuple[Decision, ...]  # one per request, in request order
    used: Mapping[str, int]  # each source's seats taken after the allocation


def allocate(
    sources: Sequence[SourceState],
    requests: Sequence[Request],
    holdings: Iterable[Holding],
    waiting: int,
) -> Allocation:
    """Decide, in arrival order, what each request gets.

    - A nomination that already holds a seat or waitlist place (a repeated verification) gets nothing new.
    - A NIK that already holds one under another nomination gets nothing: one person is never paid for twice,
      whichever source pays. This includes a NIK that appears twice in ``requests``: the first one wins.
    - Otherwise the first source in priority order with room gives a seat; with every quota full the person
      waits, behind the ``waiting`` people already on the year's waitlist.
    """
    by_nomination: dict[uuid.UUID, Holding] = {}
    by_nik: dict[str, Holding] = {}
    for holding in holdings:
        by_nomination[holding.nomination_id] = holding
        by_nik[holding.nik] = holding
    used = {s.code: s.used for s in sources}
    # Seats are only taken, never given back, within one allocation: a source found full stays full.
    open_sources = [s for s in sorted(sources, key=lambda s: (s.priority, s.code)) if s.used < s.quota]
    decisions: list[Decision] = []
    for req in requests:
        if (held := by_nomination.get(req.nomination_id)) is not None:
            decisions.append(Duplicate(req.nomination_id, "nomination_already_decided", held.nomination_id))
            continue
        if (held := by_nik.get(req.nik)) is not None:
            reason: DuplicateReason = "nik_holds_seat" if held.kind == "seat" else "nik_waitlisted"
            decisions.append(Duplicate(req.nomination_id, reason, held.nomination_id))
            continue
        while open_sources and used[open_sources[0].code] >= open_sources[0].quota:
            open_sources.pop(0)
        if open_sources:
            source = open_sources[0]
            used[source.code] += 1
            decision: Decision = Seat(req.nomination_id, source.code)
            held = Holding(req.nomination_id, req.nik, "seat")
        else:
            waiting += 1
            decision = Waitlisted(req.nomination_id, waiting)
            held = Holding(req.nomination_id, req.nik, "waitlist")
        decisions.append(decision)
        by_nomination[req.nomination_id] = by_nik[req.nik] = held
    return Allocation(tuple(decisions), used)


def coverage_start(enrolled_at: datetime) -> date:
    """The first day of the month after enrolment, in Kalimantan Timur's time zone.

    Decision (to confirm with BPJS Ketenagakerjaan and the regencies' finance offices): BPU contributions are paid
    per calendar month, and the budgets are committed as "seats x premium per month". Starting cover on the 1st of
    the next month means every paid month is a whole month, nothing is pro-rated, and a seat's first contribution
    falls in a month the payer can plan for. The cost is up to a month without cover between enrolment and the
    1st; if BPJS accepts same-day starts, change this function only.
    """
    if enrolled_at.tzinfo is None:
        raise ValueError("enrolled_at must be timezone-aware")
    local = enrolled_at.astimezone(WITA).date()
    return date(local.year + 1, 1, 1) if local.month == 12 else date(local.year, local.month + 1, 1)


def format_membership_number(serial: int) -> str:
    """A membership number (KPJ) of ``MEMBERSHIP_NUMBER_DIGITS`` digits, zero-padded."""
    if not 0 < serial < 10**MEMBERSHIP_NUMBER_DIGITS:
        raise EnrolmentError(f"membership number serial {serial} does not fit {MEMBERSHIP_NUMBER_DIGITS} digits")
    return f"{serial:0{MEMBERSHIP_NUMBER_DIGITS}d}"


def check_quotas(configured: Mapping[str, int], used: Mapping[str, int], programme_year: int) -> None:
    """Refuse a configuration that lowers a quota below the seats a source has already handed out.

    Seats are never taken back by a configuration change: the people holding them were told they are covered.
    """
    problems = [
        f"{code}: quota {quota} < {used[code]} seats already taken"
        for code, quota in configured.items()
        if code in used and quota < used[code]
    ]
    if problems:
        raise QuotaBelowSeatsTaken(
            f"funding source configuration for {programme_year} refused: " + "; ".join(sorted(problems))
        )


@dataclass(frozen=True)
class Figures:
    """What a funding source has promised and what it can still give, in seats and rupiah."""

    remaining: int
    monthly_committed_idr: int  # seats taken x premium: what the source pays each month now
    yearly_allocated_idr: int  # quota x premium x 12: the budget line the quota stands for


def figures(quota: int, used: int, premium_idr: int) -> Figures:
    return Figures(
        remaining=quota - used,
        monthly_committed_idr=used * premium_idr,
        yearly_allocated_idr=quota * premium_idr * 12,
    )
