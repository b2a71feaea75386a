"""The read model's tallies: counts kept beside ``report_nominations`` so the reports never scan it (issue 17).

Every report is a sum over rows of some contribution of each row; a tally holds those sums per key, and a batch
that changes rows changes the tallies by the difference of the new and the old rows' contributions, in the same
transaction. The grain of each key is the finest any report filters or groups by, so every report is answered
exactly as an aggregate over the rows would answer it (the same area scoping by desa prefix):

- status tally, per (desa, occupation, status, funding source, programme year, submitted?): nominations and their
  notifications sent and failed -> status counts, counts by kecamatan / desa / occupation, active seats per
  source, notification totals, nominations per desa and per occupation (kecamatan is the desa's prefix);
- day tally, per (kind, day, desa, funding source, programme year): per desa, ``submitted`` (WITA day of the
  submission), ``enrolled`` (WITA day of the confirmation) and ``ended`` (the day cover ended, only when the
  confirmation is known: the rule of the coverage series) -> the coverage series; per funding source and programme
  year (desa not kept), ``source_enrolled`` and ``source_ended``, the same days -> each source's history for the
  forecast (a few rows a day instead of one per desa: the forecast reads them all);
- reason tally, per (desa, reason code): reasons of rejected nominations (every code of the row's list).

Pure functions only; repository.py writes and reads the tables (migration 0004, whose ``report_tallies_rebuild()``
computes the same sums from the rows).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from services.reporting.domain.readmodel import NominationRow, local_day


class StatusKey(NamedTuple):
    desa_code: str | None
    kecamatan_code: str | None  # the desa's (one per desa: kept for the reports by kecamatan, no finer grain)
    occupation: str | None
    status: str
    funding_source: str | None
    programme_year: int | None
    submitted: bool  # submitted_at is known (nominations per desa count only those)


class DayKey(NamedTuple):
    kind: str  # submitted | enrolled | ended (per desa) | source_enrolled | source_ended (per source and year)
    day: date
    desa_code: str | None
    funding_source: str | None
    programme_year: int | None


class ReasonKey(NamedTuple):
    desa_code: str | None
    reason: str


def status_key(row: NominationRow) -> StatusKey:
    return StatusKey(
        row.desa_code,
        row.kecamatan_code,
        row.occupation,
        row.status,
        row.funding_source,
        row.programme_year,
        row.submitted_at is not None,
    )


def day_keys(row: NominationRow) -> list[DayKey]:
    """The days a row counts on (at most one of each kind)."""
    out = []
    if row.submitted_at is not None:
        out.append(DayKey("submitted", local_day(row.submitted_at), row.desa_code, None, None))
    if row.enrolled_at is not None:
        source = (row.funding_source, row.programme_year)
        enrolled_on = local_day(row.enrolled_at)
        out += [
            DayKey("enrolled", enrolled_on, row.desa_code, None, None),
            DayKey("source_enrolled", enrolled_on, None, *source),
        ]
        if row.ended_on is not None:  # an end counts only when the confirmation is known
            out += [
                DayKey("ended", row.ended_on, row.desa_code, None, None),
                DayKey("source_ended", row.ended_on, None, *source),
            ]
    return out


def reason_keys(row: NominationRow) -> list[ReasonKey]:
    """One per code of a rejected row's list (as ``unnest`` counts them)."""
    if row.status != "rejected":
        return []
    return [ReasonKey(row.desa_code, code) for code in row.rejection_reasons]


@dataclass
class Deltas:
    """What a batch changes in the tallies: per key, the count (and for the status tally the notification sums)
    to add; negative where rows left a key."""

    status: dict[StatusKey, tuple[int, int, int]] = field(default_factory=dict)
    days: Counter[DayKey] = field(default_factory=Counter)
    reasons: Counter[ReasonKey] = field(default_factory=Counter)

    def add(self, old: NominationRow | None, new: NominationRow) -> None:
        """Count ``new`` in and ``old`` out (``None``: the row did not exist, it counted nowhere)."""
        for row, sign in ((old, -1), (new, 1)):
            if row is None:
                continue
            key = status_key(row)
            n, sent, failed = self.status.get(key, (0, 0, 0))
            sent += sign * row.notifications_sent
            failed += sign * row.notifications_failed
            self.status[key] = (n + sign, sent, failed)
            for day in day_keys(row):
                self.days[day] += sign
            for reason in reason_keys(row):
                self.reasons[reason] += sign

    def status_rows(self) -> list[tuple[Any, ...]]:
        """Non-zero deltas in key order (every writer locks the tally rows in the same order: no deadlocks)."""
        return [(*k, *v) for k, v in sorted(self.status.items(), key=lambda kv: _order(kv[0])) if any(v)]

    def day_rows(self) -> list[tuple[Any, ...]]:
        return [(*k, n) for k, n in sorted(self.days.items(), key=lambda kv: _order(kv[0])) if n]

    def reason_rows(self) -> list[tuple[Any, ...]]:
        return [(*k, n) for k, n in sorted(self.reasons.items(), key=lambda kv: _order(kv[0])) if n]


def deltas(changes: Iterable[tuple[NominationRow | None, NominationRow]]) -> Deltas:
    """The tallies' deltas of a batch of (old, new) rows."""
    out = Deltas()
    for old, new in changes:
        out.add(old, new)
    return out


def _order(key: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    """A total order over keys holding ``None`` (unknown first, then the values)."""
    return tuple((v is not None, v if v is not None else 0) for v in key)
