"""Enrolment decisions, pure: who gets a seat from which funding source, who waits, who is a duplicate.

Nothing here does I/O. The handlers load the state (funding sources locked for the batch, the seats and waitlist
entries that concern the batch's people), ask these functions and save what they decided.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from services.enrolment.errors import EnrolmentError, QuotaBelowSeatsTaken
from shared.contracts import EndReason

# Kalimantan Timur keeps WITA (UTC+8) all year, with no daylight saving: a fixed offset is exact.
WITA = timezone(timedelta(hours=8), "WITA")
MEMBERSHIP_NUMBER_DIGITS = 11  # KPJ length by convention (unconfirmed)

DuplicateReason = Literal["nik_holds_seat", "nik_waitlisted", "nomination_already_decided"]


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


# --- the seat's life after allocation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """A person on the waitlist of a programme year; ``position`` is the arrival order (lower came first)."""

    nomination_id: uuid.UUID
    position: int


def promotions(sources: Sequence[SourceState], waiting: Sequence[Waiting]) -> list[Seat]:
    """Who gets the free seats: the waiting people in arrival order, each into the first source (by priority)
    with room, until the seats or the people run out."""
    used = {s.code: s.used for s in sources}
    ordered = sorted(sources, key=lambda s: (s.priority, s.code))
    seats: list[Seat] = []
    for person in sorted(waiting, key=lambda w: w.position):
        source = next((s for s in ordered if used[s.code] < s.quota), None)
        if source is None:
            break
        used[source.code] += 1
        seats.append(Seat(person.nomination_id, source.code))
    return seats


def freed(sources: Sequence[SourceState], code: str, n: int = 1) -> list[SourceState]:
    """The sources after ``n`` seats of ``code`` were given back (ended or refused)."""
    return [replace(s, used=s.used - n) if s.code == code else s for s in sources]


def last_day_of_month(day: date) -> date:
    first_of_next = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
    return first_of_next - timedelta(days=1)


def coverage_end(reason: EndReason, effective_date: date) -> date:
    """The last day covered when a seat ends for ``reason`` on ``effective_date``.

    - deceased: the date of death (JKM pays for a death while covered; nothing after it).
    - contributions_unpaid: the date the operator records as the last covered day (the arrears rule is BPJS's).
    - every other reason (moved out of the regency, became a wage earner, opted out, not renewed): the end of
      that month, since contributions are paid per calendar month and the month is already paid for.
    """
    if reason in ("deceased", "contributions_unpaid"):
        return effective_date
    return last_day_of_month(effective_date)


def months_covered(coverage_start: date, coverage_end: date | None, year: int) -> list[int]:
    """The months (1 to 12) of ``year`` with at least one covered day: each is a month the payer pays for."""
    months = []
    for month in range(1, 13):
        first = date(year, month, 1)
        if coverage_start <= last_day_of_month(first) and (coverage_end is None or coverage_end >= first):
            months.append(month)
    return months


@dataclass(frozen=True)
class BudgetMonth:
    month: int
    seats: int  # seats covered at least one day that month
    committed_idr: int  # seats x premium
    allocated_idr: int  # quota x premium: what the budget line holds for that month
    absorption_pct: float  # committed / allocated, 0 when nothing is allocated


def budget_months(
    quota: int, premium_idr: int, year: int, coverage: Iterable[tuple[date, date | None]]
) -> list[BudgetMonth]:
    """Allocated versus committed, month by month, for one funding source of one programme year."""
    seats = [0] * 12
    for start, end in coverage:
        for month in months_covered(start, end, year):
            seats[month - 1] += 1
    allocated = quota * premium_idr
    return [
        BudgetMonth(
            month=i + 1,
            seats=n,
            committed_idr=n * premium_idr,
            allocated_idr=allocated,
            absorption_pct=round(100 * n * premium_idr / allocated, 2) if allocated else 0.0,
        )
        for i, n in enumerate(seats)
    ]


@dataclass(frozen=True)
class Renewing:
    """An active seat of the year being closed, in the order seats were first given (earliest first)."""

    nomination_id: uuid.UUID
    funding_source: str


@dataclass(frozen=True)
class RenewalPlan:
    renewed: tuple[Seat, ...]  # the seat in the new year, with its source there
    not_renewed: tuple[uuid.UUID, ...]  # no room left in the new year's quotas


def plan_renewal(sources: Sequence[SourceState], seats: Sequence[Renewing]) -> RenewalPlan:
    """Roll active seats into the next year's sources.

    A seat stays with its payer when that payer is configured for the new year and has room (people keep the
    source their village was told about); otherwise it takes the first source by priority with room. When the
    new year's quotas are smaller than last year's roster, the most recently seated lose their seat first:
    earlier arrivals keep precedence, as on the waitlist.
    """
    used = {s.code: s.used for s in sources}
    quota = {s.code: s.quota for s in sources}
    ordered = sorted(sources, key=lambda s: (s.priority, s.code))
    renewed: list[Seat] = []
    not_renewed: list[uuid.UUID] = []
    for seat in seats:
        if seat.funding_source in used and used[seat.funding_source] < quota[seat.funding_source]:
            code: str | None = seat.funding_source
        else:
            code = next((s.code for s in ordered if used[s.code] < s.quota), None)
        if code is None:
            not_renewed.append(seat.nomination_id)
            continue
        used[code] += 1
        renewed.append(Seat(seat.nomination_id, code))
    return RenewalPlan(tuple(renewed), tuple(not_renewed))


# --- registration with BPJS ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipRequest:
    """What BPJS needs to register one BPU participant paid by a funding source."""

    nomination_id: uuid.UUID  # sent as the request's reference: BPJS answers a repeated reference the same way
    nik: str
    full_name: str
    birth_date: date
    sex: str
    phone: str
    desa_code: str
    occupation: str
    funding_source: str
    programme_year: int
    coverage_start: date


@dataclass(frozen=True)
class Registered:
    nomination_id: uuid.UUID
    membership_number: str


@dataclass(frozen=True)
class Refused:
    """BPJS will not register the person (e.g. already a wage-earner participant): the seat is freed."""

    nomination_id: uuid.UUID
    code: str
    reason: str


Answer = Registered | Refused


# --- the DCI enrolment check --------------------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per principal: ``per_minute`` checks on average, bursts up to the same number."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.capacity, self._clock = per_minute / 60.0, float(per_minute), clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, who: str) -> float:
        """0 when allowed; otherwise seconds until the next check is allowed."""
        now = self._clock()
        tokens, at = self._buckets.get(who, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[who] = (tokens - 1, now)
            return 0.0
        self._buckets[who] = (tokens, now)
        return (1 - tokens) / self.rate


# --- objections (sanggahan): a wrongly ended member's seat back (docs/outreach.md, "Review and remedies") ---------
# Ends an upheld objection undoes: facts reported about the person (registry, roster) that can be wrong. Not undone:
# opted_out (the member's own choice), contributions_unpaid (the payer and BPJS settle it), not_renewed (the year).
RESTORABLE: frozenset[str] = frozenset({"deceased", "moved_out", "inactive", "became_wage_earner"})
RESTORED_AHEAD = -(2**62)  # waitlist positions of restored members: ahead of everyone, by original seat order


def restoration_source(sources: Sequence[SourceState], original: str) -> str | None:
    """The source a restored member is seated in: the one that covered them if it has room, else the first with
    room in the programme's order (as seating does); None when every source is full (then they wait, ahead)."""
    ordered = sorted(sources, key=lambda s: (s.code != original, s.priority, s.code))
    return next((s.code for s in ordered if s.remaining > 0), None)


def restored_position(original_arrival: int) -> int:
    """A waitlist key ahead of every regular place; among restored members, the earlier original seat first."""
    return RESTORED_AHEAD + original_arrival
