"""The tallies' deltas (domain/tallies.py): a batch's old rows out, new rows in, so the tallies always equal the
contributions of the rows as they are, whatever order and however often the events come."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.reporting.domain import readmodel, tallies
from services.reporting.domain.readmodel import NominationRow
from services.reporting.domain.tallies import DayKey, ReasonKey, StatusKey
from tests import reporting_events as ev

DESA = "64.08.01.2001"
KEC = "64.08.01"
T0 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 March in WITA


def totals(deltas: tallies.Deltas) -> tuple[dict[Any, tuple[int, ...]], dict[Any, int], dict[Any, int]]:
    """The deltas as the tables would hold them (zero keys dropped, as the reads drop them)."""
    status = {tuple(r[:7]): tuple(r[7:]) for r in deltas.status_rows()}
    days = {tuple(r[:5]): r[5] for r in deltas.day_rows()}
    reasons = {tuple(r[:2]): r[2] for r in deltas.reason_rows()}
    return status, days, reasons


def test_a_new_row_counts_in_each_tally_once() -> None:
    nid = uuid.uuid4()
    row = readmodel.fold(
        [
            ev.submitted(nid, DESA, "nelayan", T0),
            ev.confirmed(nid, DESA, "APBD-KAB", T0 + timedelta(days=2)),
            ev.ended(nid, DESA, "APBD-KAB", T0 + timedelta(days=30)),
            ev.notified(nid, T0),
            ev.notified(nid, T0, failed=True),
        ]
    )[nid]
    status, days, reasons = totals(tallies.deltas([(None, row)]))
    assert status == {(DESA, KEC, "nelayan", "ended", "APBD-KAB", 2026, True): (1, 1, 1)}
    assert days == {
        ("submitted", date(2026, 3, 2), DESA, None, None): 1,  # the WITA day, not the UTC one
        ("enrolled", date(2026, 3, 4), DESA, None, None): 1,
        ("ended", date(2026, 4, 1), DESA, None, None): 1,  # the first day not covered
        ("source_enrolled", date(2026, 3, 4), None, "APBD-KAB", 2026): 1,
        ("source_ended", date(2026, 4, 1), None, "APBD-KAB", 2026): 1,
    }
    assert reasons == {}


def test_an_end_counts_only_once_the_confirmation_is_known() -> None:
    nid = uuid.uuid4()
    end_only = readmodel.fold([ev.ended(nid, DESA, "APBD-KAB", T0)])[nid]
    assert [k.kind for k in tallies.day_keys(end_only)] == []
    confirmation = ev.confirmed(nid, DESA, "APBD-KAB", T0 - timedelta(days=9))
    confirmed = readmodel.merge(end_only, readmodel.facts_of(confirmation))
    _, days, _ = totals(tallies.deltas([(end_only, confirmed)]))
    assert sorted(k[0] for k in days) == ["ended", "enrolled", "source_ended", "source_enrolled"]


def test_a_move_between_keys_takes_the_row_out_of_the_old_one() -> None:
    nid = uuid.uuid4()
    old = readmodel.fold([ev.submitted(nid, DESA, "ojek", T0)])[nid]
    new = readmodel.merge(old, readmodel.facts_of(ev.rejected(nid, DESA, ("NAME_MISMATCH", "DECEASED"), T0)))
    status, days, reasons = totals(tallies.deltas([(old, new)]))
    assert status == {
        (DESA, KEC, "ojek", "submitted", None, None, True): (-1, 0, 0),
        (DESA, KEC, "ojek", "rejected", None, None, True): (1, 0, 0),
    }
    assert days == {}  # the submission day did not change
    assert reasons == {(DESA, "NAME_MISMATCH"): 1, (DESA, "DECEASED"): 1}


def test_an_unchanged_row_changes_nothing() -> None:
    nid = uuid.uuid4()
    row = readmodel.fold([ev.submitted(nid, DESA, "ojek", T0), ev.rejected(nid, DESA, ("DECEASED",), T0)])[nid]
    again = readmodel.merge(row, readmodel.facts_of(ev.rejected(nid, DESA, ("DECEASED",), T0)))  # a redelivery
    assert totals(tallies.deltas([(row, again)])) == ({}, {}, {})


def test_rows_come_in_one_order_unknown_values_first() -> None:
    a = NominationRow(uuid.uuid4(), desa_code=None, submitted_at=T0)
    b = NominationRow(uuid.uuid4(), desa_code="64.08.02.1001", submitted_at=T0)
    c = NominationRow(uuid.uuid4(), desa_code=DESA, occupation="nelayan", submitted_at=T0)
    forward = tallies.deltas([(None, a), (None, b), (None, c)])
    backward = tallies.deltas([(None, c), (None, b), (None, a)])
    assert forward.status_rows() == backward.status_rows()
    assert [r[0] for r in forward.status_rows()] == [None, DESA, "64.08.02.1001"]
    assert forward.day_rows() == backward.day_rows()


def test_any_batches_of_any_events_keep_the_tallies_equal_to_the_rows() -> None:
    rng = random.Random(17)
    stream = [e for _ in range(200) for e in ev.life(rng, uuid.uuid4(), T0)]
    rng.shuffle(stream)
    stream += rng.sample(stream, 40)  # redeliveries of events (a notification counts twice, as in the rows)
    rows: dict[uuid.UUID, NominationRow] = {}
    kept = tallies.Deltas()  # the tables, as a running sum of every batch's deltas
    while stream:
        size = rng.randrange(1, 30)
        batch, stream = stream[:size], stream[size:]
        facts = readmodel.fold(batch)
        changes = [(rows.get(nid), readmodel.merge(rows.get(nid), row)) for nid, row in facts.items()]
        batch_deltas = tallies.deltas(changes)
        for key, v in batch_deltas.status.items():
            n, s, f = kept.status.get(key, (0, 0, 0))
            kept.status[key] = (n + v[0], s + v[1], f + v[2])
        kept.days.update(batch_deltas.days)
        kept.reasons.update(batch_deltas.reasons)
        rows.update((new.nomination_id, new) for _, new in changes)
    fresh = tallies.deltas((None, row) for row in rows.values())
    assert totals(kept) == totals(fresh)
    # and fresh is the aggregate over the rows: e.g. the status counts and the notification sums
    by_status: Counter[str] = Counter()
    for key, (n, _, _) in fresh.status.items():
        by_status[key.status] += n
    assert by_status == Counter(r.status for r in rows.values())
    assert sum(v[1] for v in fresh.status.values()) == sum(r.notifications_sent for r in rows.values())
    assert isinstance(next(iter(fresh.status)), StatusKey)
    assert all(isinstance(k, DayKey) for k in fresh.days)
    assert all(isinstance(k, ReasonKey) for k in fresh.reasons)
