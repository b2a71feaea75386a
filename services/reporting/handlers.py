"""Reporting use cases: folding a batch of events into the read model, and assembling the reports.

Reports hold codes, labels and counts only. Each ``*_report`` function is what one ``GET /v1/reports/...``
answers and what the dashboard renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import asyncpg

from services.reporting import domain, labels, repository
from services.reporting.kafka_health import KafkaHealth
from services.reporting.settings import ReportingSettings
from shared.auth import in_area
from shared.contracts import Envelope
from shared.db import Conn
from shared.regions import default_regions


async def apply_events(conn: Conn, events: Sequence[Envelope[Any]]) -> None:
    """Batch handler of every subscription: lock the batch's rows, merge the new facts in, save."""
    facts = domain.fold(events)
    existing = await repository.lock_rows(conn, list(facts))
    await repository.save(conn, [domain.merge(existing.get(nid), row) for nid, row in facts.items()])


def kecamatan_targets(settings: ReportingSettings) -> dict[str, int]:
    """People to cover per kecamatan of the regency: ``PAYUNG_KECAMATAN_TARGETS`` where it names one, the rest of
    the programme's target shared equally among the kecamatan it does not name."""
    codes = [r.code for r in default_regions().children(settings.programme_regency)]
    configured = {c: t for c, t in settings.kecamatan_targets.items() if c in codes}
    rest = [c for c in codes if c not in configured]
    left = max(0, settings.target - sum(configured.values()))
    share, extra = divmod(left, len(rest)) if rest else (0, 0)
    return {**configured, **{c: share + (1 if i < extra else 0) for i, c in enumerate(rest)}}


def area_target(settings: ReportingSettings, area: str) -> int:
    """The target of an area: its kecamatan's (or the sum of the kecamatan in it); 0 for a single desa's own."""
    targets = kecamatan_targets(settings)
    inside = [t for code, t in targets.items() if in_area(area, code)]
    if inside:
        return sum(inside)
    return 0


def target_cost(settings: ReportingSettings, budget: dict[str, Any]) -> dict[str, Any]:
    """What covering the whole target costs in a year (target x premium x 12) next to the budget allocated."""
    premium = settings.funding_sources[0].premium_idr if settings.funding_sources else 0
    yearly = settings.target * premium * 12
    allocated = budget["totals"]["yearly_allocated_idr"]
    return {
        "premium_idr": premium,
        "target": settings.target,
        "yearly_cost_idr": yearly,
        "yearly_allocated_idr": allocated,
        "gap_idr": yearly - allocated,
        "funded_share": allocated / yearly if yearly else 0.0,
    }


def region_name(code: str | None) -> str:
    region = default_regions().get(code) if code else None
    return region.name if region else (code or "?")


async def overview_report(
    pool: asyncpg.Pool, settings: ReportingSettings, lang: labels.Lang, area: str | None = None
) -> dict[str, Any]:
    """``area``: only nominations of that desa/kecamatan (a nominator's scope); the target is then the area's."""
    counts = await repository.status_counts(pool, area)
    by_status = {s: counts.get(s, 0) for s in domain.STATUSES}
    covered = by_status["enrolled"]
    target = settings.target if area is None else area_target(settings, area)
    return {
        "target": target,
        "nominated": sum(by_status.values()),
        "covered": covered,
        "coverage_share": covered / target if target else 0.0,
        "review_queue": by_status["in_review"],
        "by_status": [{"status": s, "label": labels.status(s, lang), "count": n} for s, n in by_status.items()],
        "notifications": await repository.notification_totals(pool, area),
    }


async def coverage_report(
    pool: asyncpg.Pool,
    settings: ReportingSettings,
    lang: labels.Lang,
    kecamatan: str | None = None,
    top_desa: int = 20,
    area: str | None = None,
) -> dict[str, Any]:
    """Coverage over time and by kecamatan, desa, worker category and funding source.

    Every kecamatan of the programme's regency is listed (with zeros), so an area nobody nominated from shows.
    """
    nominated, enrolled, ended = await repository.per_day(pool, area)
    series = [
        {"day": p.day.isoformat(), "nominated": p.nominated, "covered": p.covered}
        for p in domain.coverage_series(nominated, enrolled, ended)
    ]
    areas = {r["code"]: r for r in await repository.by_area(pool, "kecamatan", area=area)}
    empty = {"nominated": 0, "covered": 0, "waitlisted": 0, "rejected": 0}
    kecamatan_rows = []
    regency_kecamatan = [r.code for r in default_regions().children(settings.programme_regency)]
    if area is not None:  # a nominator's scope: its own kecamatan only
        regency_kecamatan = [c for c in regency_kecamatan if in_area(c, area) or in_area(area, c)]
    targets = kecamatan_targets(settings)
    for code in sorted(set(regency_kecamatan) | {c for c in areas if c}):
        row = {**empty, **areas.get(code, {})}
        target = targets.get(code, 0)
        kecamatan_rows.append(
            {
                **row,
                "code": code,
                "name": region_name(code),
                "target": target,
                "target_share": row["covered"] / target if target else 0.0,
            }
        )
    kecamatan_rows.sort(key=lambda r: (-r["covered"], -r["nominated"], r["name"]))
    desa = await repository.by_area(pool, "desa", kecamatan, area=area)
    desa_rows = [{**r, "name": region_name(r["code"])} for r in (desa if kecamatan else desa[:top_desa])]
    occupations = [
        {**r, "label": labels.occupation(r["code"], lang)} for r in await repository.by_occupation(pool, area)
    ]
    active = await repository.active_by_source(pool, settings.programme_year)
    sources = [
        {"code": b.code, "name": b.name, "covered": b.active, "quota": b.quota}
        for b in domain.budgets(settings.funding_sources, active)
    ]
    return {
        "target": settings.target,
        "series": series,
        "by_kecamatan": kecamatan_rows,
        "by_desa": desa_rows,
        "by_occupation": occupations,
        "by_funding_source": sources,
    }


async def budget_report(pool: asyncpg.Pool, settings: ReportingSettings) -> dict[str, Any]:
    active = await repository.active_by_source(pool, settings.programme_year)
    sources = [{**asdict(b), "used_share": b.used_share} for b in domain.budgets(settings.funding_sources, active)]
    totals = {
        key: sum(s[key] for s in sources)
        for key in ("quota", "active", "yearly_allocated_idr", "yearly_committed_idr", "monthly_committed_idr")
    }
    return {"programme_year": settings.programme_year, "sources": sources, "totals": totals}


async def rejections_report(
    pool: asyncpg.Pool, lang: labels.Lang, limit: int = 10, area: str | None = None
) -> dict[str, Any]:
    counts = await repository.status_counts(pool, area)
    reasons = await repository.rejection_reasons(pool, limit, area)
    return {
        "rejected": counts.get("rejected", 0),
        "reasons": [{"code": code, "label": labels.reason(code, lang), "count": n} for code, n in reasons],
    }


async def health_report(pool: asyncpg.Pool, kafka: KafkaHealth) -> dict[str, Any]:
    health = await kafka.read()
    counts = await repository.status_counts(pool)
    return {
        "kafka": "ok" if health.error is None else health.error,
        "lag_by_service": health.lag_by_service,
        "lag_by_group": health.lag_by_group,
        "dead_letters": health.dead_letters,
        "dead_letters_total": sum(health.dead_letters.values()),
        "review_queue": counts.get("in_review", 0),
    }
