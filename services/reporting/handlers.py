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
from shared.contracts import Envelope
from shared.regions import default_regions


async def apply_events(conn: asyncpg.Connection, events: Sequence[Envelope[Any]]) -> None:
    """Batch handler of every subscription: lock the batch's rows, merge the new facts in, save."""
    facts = domain.fold(events)
    existing = await repository.lock_rows(conn, list(facts))
    await repository.save(conn, [domain.merge(existing.get(nid), row) for nid, row in facts.items()])


def _region_name(code: str | None) -> str:
    region = default_regions().get(code) if code else None
    return region.name if region else (code or "?")


async def overview_report(pool: asyncpg.Pool, settings: ReportingSettings, lang: labels.Lang) -> dict[str, Any]:
    counts = await repository.status_counts(pool)
    by_status = {s: counts.get(s, 0) for s in domain.STATUSES}
    covered = by_status["enrolled"]
    return {
        "target": settings.target,
        "nominated": sum(by_status.values()),
        "covered": covered,
        "coverage_share": covered / settings.target,
        "review_queue": by_status["in_review"],
        "by_status": [{"status": s, "label": labels.status(s, lang), "count": n} for s, n in by_status.items()],
        "notifications": await repository.notification_totals(pool),
    }


async def coverage_report(
    pool: asyncpg.Pool, settings: ReportingSettings, lang: labels.Lang, kecamatan: str | None = None, top_desa: int = 20
) -> dict[str, Any]:
    """Coverage over time and by kecamatan, desa, worker category and funding source.

    Every kecamatan of the programme's regency is listed (with zeros), so an area nobody nominated from shows.
    """
    nominated, enrolled, ended = await repository.per_day(pool)
    series = [
        {"day": p.day.isoformat(), "nominated": p.nominated, "covered": p.covered}
        for p in domain.coverage_series(nominated, enrolled, ended)
    ]
    areas = {r["code"]: r for r in await repository.by_area(pool, "kecamatan")}
    empty = {"nominated": 0, "covered": 0, "waitlisted": 0, "rejected": 0}
    kecamatan_rows = []
    regency_kecamatan = [r.code for r in default_regions().children(settings.programme_regency)]
    for code in sorted(set(regency_kecamatan) | {c for c in areas if c}):
        row = {**empty, **areas.get(code, {})}
        kecamatan_rows.append({**row, "code": code, "name": _region_name(code)})
    kecamatan_rows.sort(key=lambda r: (-r["covered"], -r["nominated"], r["name"]))
    desa = await repository.by_area(pool, "desa", kecamatan)
    desa_rows = [{**r, "name": _region_name(r["code"])} for r in (desa if kecamatan else desa[:top_desa])]
    occupations = [{**r, "label": labels.occupation(r["code"], lang)} for r in await repository.by_occupation(pool)]
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


async def rejections_report(pool: asyncpg.Pool, lang: labels.Lang, limit: int = 10) -> dict[str, Any]:
    counts = await repository.status_counts(pool)
    reasons = await repository.rejection_reasons(pool, limit)
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
