"""Figures derived from the read model's rows: coverage by day, budgets, targets per area, the cost of the target.

Pure functions only: the region list and the configuration come in as arguments (the handlers pass them from the
service's ``Deps``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from shared.auth import in_area
from shared.regions import RegionIndex


@dataclass(frozen=True)
class DayPoint:
    day: date
    nominated: int  # cumulative nominations submitted up to and including this day
    covered: int  # people covered at the end of the day (enrolled minus ended)


def coverage_series(
    nominated_by_day: Mapping[date, int], enrolled_by_day: Mapping[date, int], ended_by_day: Mapping[date, int]
) -> list[DayPoint]:
    """Cumulative nominations and coverage for every day from the first event to the last one (gaps filled)."""
    days = set(nominated_by_day) | set(enrolled_by_day) | set(ended_by_day)
    if not days:
        return []
    day, last = min(days), max(days)
    nominated = covered = 0
    points = []
    while day <= last:
        nominated += nominated_by_day.get(day, 0)
        covered += enrolled_by_day.get(day, 0) - ended_by_day.get(day, 0)
        points.append(DayPoint(day, nominated, covered))
        day += timedelta(days=1)
    return points


@dataclass(frozen=True)
class Budget:
    code: str
    name: str
    quota: int
    active: int  # seats paid for now
    premium_idr: int
    monthly_allocated_idr: int
    monthly_committed_idr: int
    yearly_allocated_idr: int
    yearly_committed_idr: int

    @property
    def used_share(self) -> float:
        return self.active / self.quota if self.quota else 0.0


def budgets(sources: Sequence[Any], active_by_source: Mapping[str, int]) -> list[Budget]:
    """Allocated (quota x premium) versus committed (active seats x premium) per configured source.

    A source that holds seats but is not configured (any more) is shown with a quota of 0, so money committed
    without a budget line is visible rather than hidden.
    """
    rows = [(s.code, s.name, s.quota, s.premium_idr) for s in sources]
    known = {s.code for s in sources}
    premium = sources[0].premium_idr if sources else 0
    rows += [(code, code, 0, premium) for code in sorted(active_by_source) if code not in known]
    out = []
    for code, name, quota, prem in rows:
        active = active_by_source.get(code, 0)
        out.append(
            Budget(code, name, quota, active, prem, quota * prem, active * prem, quota * prem * 12, active * prem * 12)
        )
    return out


def kecamatan_targets(codes: Iterable[str], configured: Mapping[str, int], target: int) -> dict[str, int]:
    """People to cover per kecamatan (``codes``: the regency's): ``configured`` where it names one, the rest of
    ``target`` shared equally among the kecamatan it does not name."""
    codes = list(codes)
    named = {c: t for c, t in configured.items() if c in codes}
    rest = [c for c in codes if c not in named]
    left = max(0, target - sum(named.values()))
    share, extra = divmod(left, len(rest)) if rest else (0, 0)
    return {**named, **{c: share + (1 if i < extra else 0) for i, c in enumerate(rest)}}


def area_target(targets: Mapping[str, int], area: str) -> int:
    """The target of an area: its kecamatan's (or the sum of the kecamatan in it); 0 for a single desa's own."""
    inside = [t for code, t in targets.items() if in_area(area, code)]
    if inside:
        return sum(inside)
    return 0


def target_cost(target: int, premium_idr: int, budget: Mapping[str, Any]) -> dict[str, Any]:
    """What covering the whole target costs in a year (target x premium x 12) next to the budget allocated."""
    yearly = target * premium_idr * 12
    allocated = budget["totals"]["yearly_allocated_idr"]
    return {
        "premium_idr": premium_idr,
        "target": target,
        "yearly_cost_idr": yearly,
        "yearly_allocated_idr": allocated,
        "gap_idr": yearly - allocated,
        "funded_share": allocated / yearly if yearly else 0.0,
    }


def region_name(regions: RegionIndex, code: str | None) -> str:
    region = regions.get(code) if code else None
    return region.name if region else (code or "?")
