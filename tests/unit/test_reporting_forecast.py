"""The forecast of unfilled seats on constructed enrolment histories, the rupiah of unfilled seat-months, the
under-represented categories, the desa ranking, the objection fold and age buckets, the population CSV."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.reporting.adapters import population_csv
from services.reporting.domain import forecast as fc
from services.reporting.domain import objections, shortfall
from shared.contracts import Nominator, ObjectionFiled, ObjectionReviewed, new_envelope
from shared.formats import OCCUPATIONS

YEAR = fc.ProgrammeYear(2026)
PREMIUM = 16800


def daily(first: date, last: date, per_day: int) -> dict[date, int]:
    out, day = {}, first
    while day <= last:
        out[day] = per_day
        day += timedelta(days=1)
    return out


def run(history: fc.History, as_of: date, quota: int = 1000) -> fc.Forecast:
    return fc.forecast("APBD-KAB", quota, PREMIUM, history, YEAR, as_of)


def test_a_steady_pace_that_fills_forecasts_no_seats_left_and_nothing_unspent() -> None:
    history = fc.History(daily(date(2026, 1, 1), date(2026, 6, 30), 5), {})  # 905 by 30 June, 5 a day
    f = run(history, date(2026, 6, 30))
    assert (f.enrolled, f.pace_per_day, f.days_left) == (905, 5.0, 184)
    assert (f.forecast_enrolled, f.seats_left, f.will_fill) == (1000, 0, True)
    # 1 July: 905 + 5 x 1 = 910 held, 90 empty; 1 August: 905 + 5 x 32 -> full; nothing unspent after that
    assert f.unspent_rupiah == 90 * PREMIUM


def test_a_slow_pace_does_not_fill_and_the_unspent_rupiah_are_the_empty_seat_months() -> None:
    history = fc.History(daily(date(2026, 1, 1), date(2026, 9, 30), 1), {})  # 273 by 30 September
    f = run(history, date(2026, 9, 30))
    assert (f.enrolled, f.pace_per_day, f.days_left) == (273, 1.0, 92)
    assert (f.forecast_enrolled, f.seats_left) == (365, 635)
    # empty on 1 October (1 day on), 1 November (32), 1 December (62): 726 + 695 + 665 seat-months
    assert f.unspent_rupiah == (726 + 695 + 665) * PREMIUM == 35_044_800


def test_a_burst_then_nothing_sets_no_pace() -> None:
    """A village handover of 600 cards in one day, then a quiet month: the median week is 0, not 600/28."""
    history = fc.History({date(2026, 5, 10): 600}, {})
    f = run(history, date(2026, 6, 20))
    assert (f.enrolled, f.pace_per_day, f.forecast_enrolled, f.seats_left) == (600, 0.0, 600, 400)
    assert f.unspent_rupiah == 400 * 6 * PREMIUM  # July..December, 400 empty seats each month


def test_a_burst_among_steady_weeks_does_not_move_the_median() -> None:
    steady = daily(date(2026, 1, 1), date(2026, 3, 31), 2)
    burst = {**steady, date(2026, 3, 20): 302}
    assert fc.pace(fc.History(burst, {}), date(2026, 3, 31)) == fc.pace(fc.History(steady, {}), date(2026, 3, 31))
    assert fc.pace(fc.History(steady, {}), date(2026, 3, 31)) == 2.0


def test_a_source_already_full_forecasts_nothing_left() -> None:
    history = fc.History({date(2026, 2, 1): 1000}, {})
    f = run(history, date(2026, 4, 1))
    assert (f.enrolled, f.forecast_enrolled, f.seats_left, f.unspent_rupiah) == (1000, 1000, 0, 0)


def test_no_history_yet_leaves_every_seat_unfilled_for_every_month() -> None:
    f = run(fc.History({}, {}), date(2026, 1, 15))
    assert (f.enrolled, f.pace_per_day, f.forecast_enrolled, f.seats_left) == (0, 0.0, 0, 1000)
    assert f.unspent_rupiah == 1000 * 11 * PREMIUM  # February..December


def test_a_short_history_uses_the_mean_since_the_first_confirmation() -> None:
    history = fc.History(daily(date(2026, 3, 1), date(2026, 3, 10), 3), {})
    assert fc.pace(history, date(2026, 3, 10)) == 3.0


def test_at_the_end_of_the_year_nothing_is_projected_and_no_month_is_left() -> None:
    history = fc.History(daily(date(2026, 1, 1), date(2026, 12, 31), 1), {})
    f = run(history, date(2026, 12, 31))
    assert (f.days_left, f.forecast_enrolled, f.seats_left, f.unspent_rupiah) == (0, 365, 635, 0)
    after = run(history, date(2027, 1, 5))
    assert (after.days_left, after.forecast_enrolled, after.unspent_rupiah) == (0, 365, 0)


def test_ends_outpacing_confirmations_forecast_fewer_seats_than_now_never_below_zero() -> None:
    filled = {date(2026, 1, 5): 300, **daily(date(2026, 5, 1), date(2026, 6, 30), 1)}
    ended = daily(date(2026, 5, 1), date(2026, 6, 30), 3)
    f = run(fc.History(filled, ended), date(2026, 6, 30))
    assert f.pace_per_day == -2.0
    assert f.enrolled == 300 + 61 - 183
    assert (f.forecast_enrolled, f.seats_left) == (0, 1000)  # 178 - 2 x 184 < 0
    assert fc.enrolled_on(fc.History({}, {date(2026, 1, 1): 5}), date(2026, 2, 1)) == 0


def test_a_programme_year_starting_in_april_ends_in_march() -> None:
    year = fc.ProgrammeYear(2026, start_month=4)
    assert (year.start, year.end) == (date(2026, 4, 1), date(2027, 3, 31))
    assert year.month_starts_after(date(2027, 1, 15)) == [date(2027, 2, 1), date(2027, 3, 1)]
    assert fc.ProgrammeYear(2028).month_starts_after(date(2028, 2, 29)) == [date(2028, m, 1) for m in range(3, 13)]


# ------------------------------------------------------------------------------------------- categories, desa


def test_an_even_split_flags_codes_below_half_their_share_and_never_the_catch_all() -> None:
    codes = list(OCCUPATIONS)
    counts = {c: 100 for c in codes}
    counts |= {"nelayan": 10, "sopir": 30, "parkir": 0, "lainnya": 0}
    # expected 1/16 each (half: 3.125%); of 1240: parkir 0%, nelayan 0.8%, sopir 2.4% are below half
    assert shortfall.under_represented(counts, codes) == ("parkir", "nelayan", "sopir")
    assert shortfall.under_represented({}, codes) == ()


def test_configured_target_shares_replace_the_even_split() -> None:
    codes = list(OCCUPATIONS)
    counts = {"nelayan": 30, "ojek": 70}
    targets = {"nelayan": 0.8, "ojek": 0.2}
    assert shortfall.under_represented(counts, codes, targets) == ("nelayan",)  # 30% < half of 80%


def test_desa_are_ranked_by_nominations_per_eligible_person_then_by_nominations_alone() -> None:
    desa = ["A", "B", "C", "D"]
    ranks = shortfall.fewest_nominations(desa, {"A": 10, "B": 10, "C": 1}, {"A": 100, "B": 1000}, limit=3)
    assert [(r.desa_code, r.per_thousand) for r in ranks] == [("B", 10.0), ("A", 100.0), ("D", None)]
    without = shortfall.fewest_nominations(desa, {"A": 10, "B": 3, "C": 1}, {}, limit=2)
    assert [(r.desa_code, r.nominations, r.eligible_population) for r in without] == [("D", 0, 0), ("C", 1, 0)]


# ------------------------------------------------------------------------------------------------ objections

NOMINATOR = Nominator(type="desa", name="Kepala Desa", region_code="64.08.01.2001")
FILED = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def filed(oid: uuid.UUID) -> object:
    payload = ObjectionFiled(
        objection_id=oid, nomination_id=oid, ground="rejected", filed_by="beneficiary", channel="web",
        reason_code="data_corrected", filed_at=FILED, due_by=date(2026, 3, 15), full_name="Warga",
        phone="+6281234567890", desa_code="64.08.01.2001", nominator=NOMINATOR,
    )  # fmt: skip
    return new_envelope(payload, producer="nomination", person_key="p" * 16, correlation_id=oid)


def reviewed(oid: uuid.UUID, state: str, at: datetime) -> object:
    payload = ObjectionReviewed(
        objection_id=oid, nomination_id=oid, state=state, ground="rejected", reason_code="data_corrected",  # type: ignore[arg-type]
        filed_at=FILED, reviewed_at=at, full_name="Warga", phone="+6281234567890", desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )  # fmt: skip
    return new_envelope(payload, producer="verification", person_key="p" * 16, correlation_id=oid)


def test_objection_events_fold_in_any_order_to_the_furthest_state() -> None:
    oid = uuid.uuid4()
    decided_at = FILED + timedelta(days=9)
    events = [filed(oid), reviewed(oid, "in_review", FILED + timedelta(days=2)), reviewed(oid, "upheld", decided_at)]
    forwards = objections.fold(events)[oid]  # type: ignore[arg-type]
    backwards = objections.fold(reversed(events))[oid]  # type: ignore[arg-type]
    assert forwards == backwards
    assert (forwards.state, forwards.due_by, forwards.decided_at) == ("upheld", date(2026, 3, 15), decided_at)
    assert objections.age_days(forwards.filed_at, forwards.decided_at, date(2026, 6, 1)) == 9


@pytest.mark.parametrize(
    ("days", "bucket"), [(0, "0-7"), (7, "0-7"), (8, "8-14"), (14, "8-14"), (15, "15-30"), (30, "15-30"), (31, ">30")]
)
def test_age_buckets(days: int, bucket: str) -> None:
    assert objections.age_bucket(days) == bucket


def test_an_objection_is_overdue_after_its_due_date_until_it_is_decided() -> None:
    due = date(2026, 3, 15)
    assert not objections.overdue("received", due, date(2026, 3, 15))
    assert objections.overdue("in_review", due, date(2026, 3, 16))
    assert not objections.overdue("dismissed", due, date(2026, 4, 1))
    assert not objections.overdue("received", None, date(2026, 4, 1))


# -------------------------------------------------------------------------------------------- population CSV


def test_the_population_csv_is_read_and_every_faulty_line_named_without_its_value() -> None:
    assert population_csv.parse("desa_code,eligible_population\n64.08.01.2001,1200\n") == [("64.08.01.2001", 1200)]
    bad = "\ufeffdesa_code,eligible_population\n64.08.01.2001,12\n64.08.01.2001,3\nDROP TABLE,5\n64.08.01.2002,-4\n"
    with pytest.raises(population_csv.PopulationFileError) as caught:
        population_csv.parse(bad)
    assert [(line, column) for line, column, _ in caught.value.problems] == [
        (3, "desa_code"), (4, "desa_code"), (5, "eligible_population")
    ]  # fmt: skip
    assert "DROP" not in str(caught.value.problems) and "-4" not in str(caught.value.problems)


@pytest.mark.parametrize(
    "text",
    [
        "kode,jumlah\n64.08.01.2001,1\n",  # wrong header
        "desa_code,eligible_population\n" + "x" * population_csv.MAX_BYTES,  # oversized
        "desa_code,eligible_population\n64.08.01.2001,99999999999\n",  # out of range
        "desa_code,eligible_population\n64.08.01.2001,１２\n",  # non-ASCII digits
    ],
)
def test_hostile_population_files_are_refused(text: str) -> None:
    with pytest.raises(population_csv.PopulationFileError):
        population_csv.parse(text)


def test_the_demo_counts_working_age_living_residents_per_desa(tmp_path: Path) -> None:
    from deploy.ops.demo import eligible_population
    from tools.synthetic import generate_registry, write_registry

    registry = tmp_path / "registry.csv"
    write_registry(generate_registry(300, seed=1, regency="64.08", reference_date=date(2026, 6, 1)), registry)
    counts = eligible_population(registry, date(2026, 6, 1))
    assert counts == sorted(counts) and 0 < sum(n for _, n in counts) <= 300
    assert all(population_csv.DESA_CODE.match(code) for code, _ in counts)
    population_csv.write(tmp_path / "population.csv", counts)
    assert population_csv.read(tmp_path / "population.csv") == counts
