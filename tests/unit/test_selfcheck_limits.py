"""The self-check's budget arithmetic (services/nomination/domain/limits.py): fixed windows, which budget runs out
first, when a lock-out ends, and the enumeration bound docs/outreach.md quotes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.nomination.domain.limits import Counts, Limits, enumeration_bound, exhausted, lockout, window_start

L = Limits()


def test_windows_are_fixed() -> None:
    now = datetime(2026, 12, 3, 14, 37, 12, tzinfo=UTC)
    assert window_start(now, 3600) == datetime(2026, 12, 3, 14, tzinfo=UTC)
    assert window_start(now, 86400) == datetime(2026, 12, 3, tzinfo=UTC)
    assert window_start(datetime(2026, 12, 3, 15, tzinfo=UTC), 3600) == datetime(2026, 12, 3, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("counts", "budget"),
    [
        (Counts(), None),
        (Counts(source_misses=4, source_attempts=19, nik_misses=2, nik_attempts=9, global_misses=499), None),
        (Counts(source_misses=5), "source_misses"),
        (Counts(source_attempts=20), "source_attempts"),
        (Counts(nik_misses=3), "nik_misses"),
        (Counts(nik_attempts=10), "nik_attempts"),
        (Counts(global_misses=500), "global_misses"),
        (Counts(source_misses=5, nik_misses=3), "source_misses"),
    ],
)
def test_the_first_budget_that_ran_out(counts: Counts, budget: str | None) -> None:
    assert exhausted(counts, L) == budget


def test_a_lock_out_lasts_for_the_rest_of_its_window() -> None:
    now = datetime(2026, 12, 3, 14, 37, tzinfo=UTC)
    assert lockout("source_misses", now, L) == (
        datetime(2026, 12, 3, 14, tzinfo=UTC),
        datetime(2026, 12, 3, 15, tzinfo=UTC),
    )
    assert lockout("nik_misses", now, L)[1] == datetime(2026, 12, 4, tzinfo=UTC)
    assert lockout("global_misses", now, L)[1] == datetime(2026, 12, 3, 15, tzinfo=UTC)


def test_the_enumeration_bound() -> None:
    # one source: 5 pairs an hour, 120 a day
    assert enumeration_bound(L, sources=1, hours=24) == 120
    # 50 sources: 250 an hour, under the global 500
    assert enumeration_bound(L, sources=50, hours=1) == 250
    # a botnet of 10,000 addresses is capped by the global budget: 500 an hour, 12,000 a day
    assert enumeration_bound(L, sources=10_000, hours=24) == 12_000
