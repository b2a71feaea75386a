"""Pure rules of a seat's life: promotion order, coverage end, month arithmetic, budget figures, renewal."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.enrolment.domain import (
    Renewing,
    Seat,
    SourceState,
    Waiting,
    budget_months,
    coverage_end,
    last_day_of_month,
    months_covered,
    plan_renewal,
    promotions,
)


def uid(i: int) -> uuid.UUID:
    return uuid.UUID(int=i)


def test_promotion_takes_the_earliest_arrivals_into_the_first_sources_with_room() -> None:
    sources = [SourceState("APBD-PROV", 2, 1, 2), SourceState("APBD-KAB", 3, 2, 1)]  # one free seat in each
    waiting = [Waiting(uid(3), 30), Waiting(uid(1), 10), Waiting(uid(2), 20)]  # given out of order
    assert promotions(sources, waiting) == [Seat(uid(1), "APBD-KAB"), Seat(uid(2), "APBD-PROV")]


def test_promotion_gives_nothing_when_every_quota_is_full_or_nobody_waits() -> None:
    full = [SourceState("APBD-KAB", 3, 3, 1)]
    assert promotions(full, [Waiting(uid(1), 1)]) == []
    assert promotions([SourceState("APBD-KAB", 3, 0, 1)], []) == []


@pytest.mark.parametrize(
    ("day", "last"),
    [
        (date(2026, 1, 31), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2028, 2, 10), date(2028, 2, 29)),  # leap year
        (date(2026, 12, 1), date(2026, 12, 31)),  # year end
        (date(2026, 4, 30), date(2026, 4, 30)),
    ],
)
def test_last_day_of_month(day: date, last: date) -> None:
    assert last_day_of_month(day) == last


@pytest.mark.parametrize(
    ("reason", "effective", "end"),
    [
        ("deceased", date(2026, 3, 14), date(2026, 3, 14)),  # the date of death
        ("contributions_unpaid", date(2026, 3, 31), date(2026, 3, 31)),
        ("moved_out", date(2026, 3, 14), date(2026, 3, 31)),  # end of that month
        ("moved_out", date(2026, 12, 2), date(2026, 12, 31)),
        ("became_wage_earner", date(2026, 2, 3), date(2026, 2, 28)),
        ("opted_out", date(2026, 2, 28), date(2026, 2, 28)),
    ],
)
def test_coverage_end_by_reason(reason: str, effective: date, end: date) -> None:
    assert coverage_end(reason, effective) == end  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2026, 1, 1), None, list(range(1, 13))),
        (date(2026, 3, 1), date(2026, 3, 1), [3]),  # one day is a paid month
        (date(2026, 3, 1), date(2026, 2, 28), []),  # ended before cover started
        (date(2026, 3, 1), date(2026, 5, 31), [3, 4, 5]),
        (date(2026, 3, 1), date(2026, 6, 1), [3, 4, 5, 6]),  # the 1st of a month counts that month
        (date(2025, 11, 1), date(2026, 1, 31), [1]),  # only the months of the year asked
        (date(2027, 1, 1), None, []),  # starts after the year
        (date(2026, 12, 1), None, [12]),
    ],
)
def test_months_covered_at_month_edges(start: date, end: date | None, months: list[int]) -> None:
    assert months_covered(start, end, 2026) == months


def test_budget_months_count_committed_against_allocated() -> None:
    coverage = [
        (date(2026, 1, 1), None),  # all year
        (date(2026, 1, 1), date(2026, 3, 15)),  # died in March: Jan to Mar
        (date(2026, 11, 1), None),  # Nov, Dec
    ]
    months = budget_months(quota=4, premium_idr=16800, year=2026, coverage=coverage)
    assert [m.seats for m in months] == [2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2]
    assert months[0].committed_idr == 2 * 16800
    assert all(m.allocated_idr == 4 * 16800 for m in months)
    assert months[0].absorption_pct == 50.0
    assert months[3].absorption_pct == 25.0
    assert budget_months(0, 16800, 2026, [])[0].absorption_pct == 0.0  # nothing allocated: no division


def test_renewal_keeps_the_payer_when_it_has_room_else_the_first_source_by_priority() -> None:
    sources = [SourceState("APBD-KAB", 2, 0, 1), SourceState("APBD-PROV", 2, 0, 2)]
    seats = [Renewing(uid(1), "APBD-PROV"), Renewing(uid(2), "APBD-KAB"), Renewing(uid(3), "GONE")]
    plan = plan_renewal(sources, seats)
    assert plan.renewed == (Seat(uid(1), "APBD-PROV"), Seat(uid(2), "APBD-KAB"), Seat(uid(3), "APBD-KAB"))
    assert plan.not_renewed == ()


def test_renewal_with_smaller_quotas_drops_the_latest_seated_first() -> None:
    sources = [SourceState("APBD-KAB", 2, 0, 1)]
    seats = [Renewing(uid(i), "APBD-KAB") for i in (1, 2, 3)]
    plan = plan_renewal(sources, seats)
    assert [s.nomination_id for s in plan.renewed] == [uid(1), uid(2)]
    assert plan.not_renewed == (uid(3),)


def test_renewal_counts_seats_already_taken_in_the_new_year() -> None:
    plan = plan_renewal([SourceState("APBD-KAB", 2, 1, 1)], [Renewing(uid(1), "APBD-KAB"), Renewing(uid(2), "X")])
    assert plan.renewed == (Seat(uid(1), "APBD-KAB"),)
    assert plan.not_renewed == (uid(2),)
