"""The reporting read model: folding events in any order, derived status, coverage series, budgets, labels."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import TopicPartition

from services.reporting.adapters.kafka_health import group_lag
from services.reporting.domain import charts, figures, labels
from services.reporting.domain import readmodel as domain
from services.reporting.settings import FundingSource
from shared.contracts import (
    EnrolmentEnded,
    IdentityRejected,
    Nominator,
    NotificationSent,
    Reason,
)
from tests import reporting_events as ev

NID = uuid.uuid4()
DESA = "64.08.01.2001"
NOMINATOR = Nominator(type="desa", name="Kepala Desa", region_code=DESA)
T0 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 March in WITA


def submitted(at: datetime = T0) -> Any:
    return ev.submitted(NID, DESA, "nelayan", at, nominator=NOMINATOR)


def verified(at: datetime) -> Any:
    return ev.verified(NID, DESA, at, nominator=NOMINATOR)


def confirmed(at: datetime) -> Any:
    return ev.confirmed(NID, DESA, "APBD-KAB", at, nominator=NOMINATOR)


def waitlisted(at: datetime) -> Any:
    return ev.waitlisted(NID, DESA, at, nominator=NOMINATOR)


def review(at: datetime) -> Any:
    return ev.review(NID, DESA, at)


def test_submission_gives_area_category_and_day_without_personal_data() -> None:
    row = domain.fold([submitted()])[NID]
    assert (row.desa_code, row.kecamatan_code, row.occupation, row.nominator_type) == (
        DESA,
        "64.08.01",
        "nelayan",
        "desa",
    )
    assert row.status == "submitted"
    assert domain.local_day(row.submitted_at) == date(2026, 3, 2)  # counted on the WITA day
    assert not {"nik", "full_name", "phone", "birth_date"} & set(vars(row))


def test_any_arrival_order_gives_the_same_row() -> None:
    events = [
        submitted(),
        review(T0 + timedelta(minutes=1)),
        verified(T0 + timedelta(minutes=5)),
        waitlisted(T0 + timedelta(minutes=6)),
        confirmed(T0 + timedelta(days=3)),
        ev.envelope(
            NotificationSent(
                nomination_id=NID,
                delivery_id=uuid.uuid4(),
                purpose="enrolment_confirmed",
                recipient_role="beneficiary",
                channel="sms",
            ),
            T0 + timedelta(days=3, minutes=1),
        ),
    ]
    rows = {domain.fold(order)[NID] for order in itertools.permutations(events)}
    assert len(rows) == 1
    (row,) = rows
    assert (row.status, row.funding_source, row.notifications_sent) == ("enrolled", "APBD-KAB", 1)
    # merging batch by batch (the way the consumer sees them) gives the same row too
    stepwise = None
    for e in reversed(events):
        stepwise = domain.merge(stepwise, domain.facts_of(e))
    assert stepwise == row


def test_review_queue_holds_until_a_later_decision() -> None:
    in_review = domain.fold([submitted(), review(T0 + timedelta(hours=1))])[NID]
    assert in_review.status == "in_review"
    decided = domain.merge(in_review, domain.facts_of(verified(T0 + timedelta(hours=2))))
    assert decided.status == "verified"
    # a verification that happened *before* the review request does not close it
    early = domain.merge(in_review, domain.facts_of(verified(T0 + timedelta(minutes=30))))
    assert early.status == "in_review"


def test_rejection_reasons_are_kept_once_each_and_ended_beats_enrolled() -> None:
    rejected = ev.envelope(
        IdentityRejected(
            nomination_id=NID,
            reasons=(Reason(code="NAME_MISMATCH", detail="x"), Reason(code="DECEASED", detail="y")),
            full_name="Siti",
            nominator=NOMINATOR,
            desa_code=DESA,
        ),
        T0,
    )
    row = domain.fold([rejected, rejected])[NID]
    assert (row.status, row.rejection_reasons) == ("rejected", ("NAME_MISMATCH", "DECEASED"))
    ended = ev.envelope(
        EnrolmentEnded(
            nomination_id=NID,
            membership_number="1",
            funding_source="APBD-KAB",
            programme_year=2026,
            reason="deceased",
            coverage_end=date(2026, 5, 31),
            full_name="Siti",
            phone="+6281234567890",
            desa_code=DESA,
            nominator=NOMINATOR,
        ),
        T0 + timedelta(days=90),
    )
    row = domain.fold([ended, confirmed(T0)])[NID]
    assert (row.status, row.ended_on, row.end_reason) == ("ended", date(2026, 6, 1), "deceased")


def test_coverage_series_fills_gaps_and_subtracts_ends() -> None:
    d = date(2026, 3, 1)
    series = figures.coverage_series(
        {d: 5, d + timedelta(days=1): 3}, {d + timedelta(days=1): 4}, {d + timedelta(days=3): 1}
    )
    assert [(p.day.day, p.nominated, p.covered) for p in series] == [(1, 5, 0), (2, 8, 4), (3, 8, 4), (4, 8, 3)]
    assert figures.coverage_series({}, {}, {}) == []


def test_budget_is_quota_times_premium_against_active_seats() -> None:
    sources = [FundingSource(code="APBD-KAB", name="Kab", quota=15000, premium_idr=16800)]
    kab, unknown = figures.budgets(sources, {"APBD-KAB": 100, "OLD": 2})
    assert kab.yearly_allocated_idr == 3_024_000_000  # PPU's budget line: 15,000 x Rp16,800 x 12
    assert (kab.monthly_committed_idr, kab.yearly_committed_idr) == (1_680_000, 20_160_000)
    assert (unknown.code, unknown.quota, unknown.active) == ("OLD", 0, 2)  # money without a budget line shows


def test_group_lag_counts_from_the_beginning_where_nothing_was_committed() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    assert group_lag({a: 10, b: 7}, {a: 4}, {a: 0, b: 2}) == 6 + 5
    assert group_lag({a: 10}, {a: 12}, {}) == 0  # never negative


def test_labels_have_both_languages_and_fall_back_to_the_code() -> None:
    assert labels.occupation("nelayan", "id") == "Nelayan"
    assert labels.occupation("nelayan", "en") == "Fisher"
    english, bahasa = labels.reason("DECEASED", "en"), labels.reason("DECEASED", "id")  # from shared/reasons.py
    assert english and bahasa and english != bahasa != "DECEASED"
    assert labels.reason("NOT_A_CODE", "id") == "NOT_A_CODE"
    assert set(labels.TEXT) and all(set(v) == {"id", "en"} for v in labels.TEXT.values())


def test_chart_geometry() -> None:
    chart = charts.line_chart(
        [{"day": "2026-03-01", "a": 0}, {"day": "2026-03-02", "a": 10}], [("a", "A")], width=100, height=50
    )
    assert chart.lines[0][2] == "0.0,50.0 100.0,0.0"
    assert [r["pct"] for r in charts.bars([{"n": 5}, {"n": 10}, {"n": 0}], "n")] == [50.0, 100.0, 0.0]
    assert charts.rupiah(3_024_000_000) == "Rp3.024.000.000"


def test_a_bpjs_refusal_after_a_waitlist_place_is_refused_in_any_order() -> None:
    from shared.contracts import EnrolmentRefused

    refused = ev.envelope(
        EnrolmentRefused(
            nomination_id=NID, programme_year=2026, refusal_code="PU_ACTIVE", refusal_reason="x",
            full_name="Siti", desa_code=DESA, nominator=NOMINATOR,
        ),
        T0 + timedelta(days=2),
    )  # fmt: skip
    events = [submitted(), verified(T0 + timedelta(minutes=5)), waitlisted(T0 + timedelta(minutes=6)), refused]
    rows = {domain.fold(order)[NID] for order in itertools.permutations(events)}
    assert len(rows) == 1
    (row,) = rows
    assert (row.status, row.refusal_code, row.refused_at) == ("refused", "PU_ACTIVE", T0 + timedelta(days=2))
    assert "refused" in domain.STATUSES
    assert labels.status("refused", "id") == "Ditolak BPJS" and labels.status("refused", "en") == "Refused by BPJS"
