"""The forecast of unfilled seats: will a funding source fill its quota by the programme year's end at the current pace?

Pure functions only (docs/outreach.md, "Forecast of unfilled seats", explains the choices):

- **Pace** (net seats filled per day: confirmations minus ends) is the *median of the last four 7-day blocks*
  ending on ``as_of``, divided by 7. A median of weeks is robust to a burst (a village handover confirming 2,000
  people in one afternoon is one week out of four: it does not set the pace for the rest of the year) and to a quiet
  week, and it reacts within two weeks when the pace really changes. With less than 28 days of history (counted from
  the source's first confirmation) the pace is the plain mean over the days there are: a median of weeks before the
  programme started would be zero.
- **Forecast enrolled** = enrolled now + pace x days left in the programme year, kept within 0..quota.
- **Unspent rupiah** = the contributions of unfilled seat-months: for every calendar month of the programme year
  after ``as_of``'s month, the seats projected empty on that month's first day (quota minus the projection then)
  times the premium per person per month. The current month is not counted (its contributions follow the seats
  already filled); a seat filled in May pays from May on, so the months before it was filled count as unspent.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

WINDOW_WEEKS = 4
WEEK = 7


@dataclass(frozen=True)
class ProgrammeYear:
    """The programme year ``year``: from month ``start_month`` of ``year`` to the day before that month a year on
    (calendar year: ``start_month=1``)."""

    year: int
    start_month: int = 1

    @property
    def start(self) -> date:
        return date(self.year, self.start_month, 1)

    @property
    def end(self) -> date:
        """The last day of the programme year."""
        return date(self.year + 1, self.start_month, 1) - timedelta(days=1)

    def month_starts_after(self, day: date) -> list[date]:
        """The first days of the programme year's months that begin after ``day``'s month."""
        out = []
        month = date(self.year, self.start_month, 1)
        while month <= self.end:
            if month > day:
                out.append(month)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        return out


@dataclass(frozen=True)
class History:
    """One funding source's seats per local day: confirmations (``filled``) and ends (``ended``, the first day no
    longer covered)."""

    filled: Mapping[date, int]
    ended: Mapping[date, int]


@dataclass(frozen=True)
class Forecast:
    funding_source: str
    as_of: date
    quota: int
    enrolled: int
    pace_per_day: float  # net seats a day (negative: ends outpace confirmations)
    days_left: int
    forecast_enrolled: int
    seats_left: int
    unspent_rupiah: int

    @property
    def will_fill(self) -> bool:
        return self.seats_left == 0


def enrolled_on(history: History, day: date) -> int:
    """Seats held at the end of ``day`` (never below zero)."""
    filled = sum(n for d, n in history.filled.items() if d <= day)
    ended = sum(n for d, n in history.ended.items() if d <= day)
    return max(0, filled - ended)


def _net(history: History, first: date, last: date) -> int:
    """Net seats filled from ``first`` to ``last``, both included."""
    filled = sum(n for d, n in history.filled.items() if first <= d <= last)
    ended = sum(n for d, n in history.ended.items() if first <= d <= last)
    return filled - ended


def pace(history: History, as_of: date) -> float:
    """Net seats filled per day at ``as_of`` (see the module docstring): the median of the last four weeks, or the
    mean since the first confirmation when the history is shorter than that."""
    known = [d for d in history.filled if d <= as_of]
    if not known:
        return 0.0
    days = (as_of - min(known)).days + 1
    if days < WINDOW_WEEKS * WEEK:
        return _net(history, min(known), as_of) / days
    weeks = [
        _net(history, as_of - timedelta(days=WEEK * (i + 1) - 1), as_of - timedelta(days=WEEK * i))
        for i in range(WINDOW_WEEKS)
    ]
    return statistics.median(weeks) / WEEK


def projected(enrolled: int, pace_per_day: float, days: int, quota: int) -> int:
    """Seats held ``days`` from now at ``pace_per_day``, within 0..quota (rounded down: a seat is filled or not)."""
    return min(quota, max(0, int(enrolled + pace_per_day * days)))


def forecast(
    funding_source: str, quota: int, premium_idr: int, history: History, year: ProgrammeYear, as_of: date
) -> Forecast:
    """The source's forecast at the end of ``as_of`` (the module docstring defines every figure)."""
    enrolled = enrolled_on(history, as_of)
    rate = pace(history, as_of)
    last = year.end
    days_left = max(0, (last - max(as_of, year.start - timedelta(days=1))).days)
    expected = projected(enrolled, rate, days_left, quota)
    if as_of > last:  # the year is over: what is held is what it ended with
        expected = min(quota, enrolled)
    unspent = sum(
        (quota - projected(enrolled, rate, (month - as_of).days, quota)) * premium_idr
        for month in year.month_starts_after(as_of)
    )
    return Forecast(
        funding_source=funding_source,
        as_of=as_of,
        quota=quota,
        enrolled=enrolled,
        pace_per_day=rate,
        days_left=days_left,
        forecast_enrolled=expected,
        seats_left=max(0, quota - expected),
        unspent_rupiah=unspent,
    )
