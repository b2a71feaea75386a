"""The enrolment service's pure decisions: allocation, duplicates, coverage start, numbers, quotas, money."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.enrolment.domain import (
    Duplicate,
    Holding,
    Request,
    Seat,
    SourceState,
    Waitlisted,
    allocate,
    check_quotas,
    coverage_start,
    figures,
    format_membership_number,
)
from services.enrolment.errors import EnrolmentError, QuotaBelowSeatsTaken


def ids(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1) for i in range(n)]


def requests(n: int) -> list[Request]:
    return [Request(nid, f"64090100000{i:05d}") for i, nid in enumerate(ids(n))]


KAB = SourceState("APBD-KAB", quota=3, used=0, priority=1)
PROV = SourceState("APBD-PROV", quota=2, used=0, priority=2)


def test_fills_sources_in_priority_order_then_waitlists_in_arrival_order() -> None:
    reqs = requests(8)
    result = allocate([PROV, KAB], reqs, [], waiting=0)  # given out of order: priority decides
    assert result.decisions == (
        Seat(reqs[0].nomination_id, "APBD-KAB"),
        Seat(reqs[1].nomination_id, "APBD-KAB"),
        Seat(reqs[2].nomination_id, "APBD-KAB"),
        Seat(reqs[3].nomination_id, "APBD-PROV"),
        Seat(reqs[4].nomination_id, "APBD-PROV"),
        Waitlisted(reqs[5].nomination_id, 1),
        Waitlisted(reqs[6].nomination_id, 2),
        Waitlisted(reqs[7].nomination_id, 3),
    )
    assert result.used == {"APBD-KAB": 3, "APBD-PROV": 2}


def test_starts_from_seats_already_taken_and_never_exceeds_a_quota() -> None:
    reqs = requests(3)
    result = allocate([SourceState("APBD-KAB", 3, 2, 1), SourceState("APBD-PROV", 2, 2, 2)], reqs, [], 0)
    assert result.decisions[0] == Seat(reqs[0].nomination_id, "APBD-KAB")
    assert [type(d) for d in result.decisions[1:]] == [Waitlisted, Waitlisted]
    assert result.used == {"APBD-KAB": 3, "APBD-PROV": 2}


def test_a_higher_priority_source_with_room_again_is_used_first() -> None:
    full_kab = SourceState("APBD-KAB", quota=3, used=3, priority=1)
    result = allocate([full_kab, PROV], requests(1), [], 0)
    assert result.decisions[0].funding_source == "APBD-PROV"  # type: ignore[union-attr]
    raised_kab = SourceState("APBD-KAB", quota=4, used=3, priority=1)
    result = allocate([raised_kab, PROV], requests(1), [], 0)
    assert result.decisions[0].funding_source == "APBD-KAB"  # type: ignore[union-attr]


def test_waitlist_positions_continue_after_the_people_already_waiting() -> None:
    full = SourceState("APBD-KAB", quota=1, used=1, priority=1)
    result = allocate([full], requests(2), [], waiting=7)
    assert [d.position for d in result.decisions] == [8, 9]  # type: ignore[union-attr]


def test_no_sources_means_everyone_waits() -> None:
    result = allocate([], requests(2), [], waiting=0)
    assert [type(d) for d in result.decisions] == [Waitlisted, Waitlisted]
    assert result.used == {}


def test_zero_quota_source_gives_no_seat() -> None:
    result = allocate([SourceState("X", 0, 0, 1)], requests(1), [], 0)
    assert result.decisions == (Waitlisted(ids(1)[0], 1),)


def test_nik_with_a_seat_under_another_nomination_gets_nothing() -> None:
    other = uuid.uuid4()
    req = requests(1)[0]
    result = allocate([KAB], [req], [Holding(other, req.nik, "seat")], 0)
    assert result.decisions == (Duplicate(req.nomination_id, "nik_holds_seat", other),)
    assert result.used == {"APBD-KAB": 0}


def test_nik_on_the_waitlist_under_another_nomination_gets_nothing() -> None:
    other = uuid.uuid4()
    req = requests(1)[0]
    result = allocate([KAB], [req], [Holding(other, req.nik, "waitlist")], waiting=1)
    # Even though a seat is free: the person already has a place, and promotion is a separate decision.
    assert result.decisions == (Duplicate(req.nomination_id, "nik_waitlisted", other),)


def test_same_nomination_verified_again_gets_nothing() -> None:
    req = requests(1)[0]
    result = allocate([KAB], [req], [Holding(req.nomination_id, req.nik, "seat")], 0)
    assert result.decisions == (Duplicate(req.nomination_id, "nomination_already_decided", req.nomination_id),)


def test_same_nik_twice_in_one_batch_first_one_wins() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    reqs = [Request(first, "6409010000000001"), Request(second, "6409010000000001")]
    result = allocate([KAB], reqs, [], 0)
    assert result.decisions == (Seat(first, "APBD-KAB"), Duplicate(second, "nik_holds_seat", first))
    assert result.used == {"APBD-KAB": 1}


def test_same_nik_twice_in_one_batch_while_waitlisting() -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    reqs = [Request(first, "6409010000000001"), Request(second, "6409010000000001"), Request(third, "6409010000000002")]
    result = allocate([SourceState("X", 0, 0, 1)], reqs, [], waiting=4)
    assert result.decisions == (
        Waitlisted(first, 5),
        Duplicate(second, "nik_waitlisted", first),
        Waitlisted(third, 6),  # the duplicate took no place in the line
    )


def test_same_nomination_twice_in_one_batch() -> None:
    req = requests(1)[0]
    result = allocate([KAB], [req, req], [], 0)
    assert result.decisions == (
        Seat(req.nomination_id, "APBD-KAB"),
        Duplicate(req.nomination_id, "nomination_already_decided", req.nomination_id),
    )
    assert result.used == {"APBD-KAB": 1}


def test_equal_priorities_are_ordered_by_code() -> None:
    b, a = SourceState("B", 1, 0, 1), SourceState("A", 1, 0, 1)
    result = allocate([b, a], requests(2), [], 0)
    assert [d.funding_source for d in result.decisions] == ["A", "B"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("enrolled_at", "expected"),
    [
        (datetime(2026, 3, 10, 4, 0, tzinfo=UTC), date(2026, 4, 1)),
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), date(2026, 4, 1)),  # on the 1st: still the next month
        (datetime(2026, 12, 31, 12, 0, tzinfo=UTC), date(2027, 1, 1)),  # year rollover
        # 31 March 17:00 UTC is already 1 April 01:00 in WITA: the local month counts.
        (datetime(2026, 3, 31, 17, 0, tzinfo=UTC), date(2026, 5, 1)),
        (datetime(2026, 3, 31, 15, 59, tzinfo=UTC), date(2026, 4, 1)),
        (datetime(2026, 1, 31, 9, 0, tzinfo=timezone(timedelta(hours=7))), date(2026, 2, 1)),
    ],
)
def test_coverage_starts_on_the_first_of_the_next_month_in_wita(enrolled_at: datetime, expected: date) -> None:
    assert coverage_start(enrolled_at) == expected


def test_coverage_start_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        coverage_start(datetime(2026, 3, 10))


def test_membership_numbers_have_eleven_digits() -> None:
    assert format_membership_number(1) == "00000000001"
    assert format_membership_number(99_999_999_999) == "99999999999"
    for bad in (0, -1, 100_000_000_000):
        with pytest.raises(EnrolmentError):
            format_membership_number(bad)


def test_quota_may_be_raised_or_kept_but_not_lowered_below_seats_taken() -> None:
    check_quotas({"A": 10, "B": 5, "NEW": 1}, {"A": 10, "B": 2}, 2026)
    with pytest.raises(QuotaBelowSeatsTaken, match=r"A: quota 9 < 10 seats already taken") as exc:
        check_quotas({"A": 9, "B": 5}, {"A": 10, "B": 2}, 2026)
    assert "2026" in str(exc.value)
    assert "B" not in str(exc.value).split("refused:")[1]


def test_figures_use_the_premium_per_person_per_month() -> None:
    # PPU's budget line: 15,000 x Rp16,800 x 12 = Rp3.024 billion.
    f = figures(quota=15000, used=1200, premium_idr=16800)
    assert f.remaining == 13800
    assert f.monthly_committed_idr == 1200 * 16800
    assert f.yearly_allocated_idr == 3_024_000_000
