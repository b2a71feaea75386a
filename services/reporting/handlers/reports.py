"""Reporting use cases: folding a batch of events into the read model, and answering the report queries.

Reports hold codes, labels and counts only. Each query handler is what one ``GET /v1/reports/...`` answers; the
dashboard's handler assembles them all for the page and its XLSX export. The two answers that include Kafka's
pipeline health (``health``, ``dashboard``) read Kafka outside their transaction: during a Kafka outage a reading
waits up to 10 s, and it must not hold a pooled connection meanwhile (the consumer needs them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from services.reporting import repository
from services.reporting.adapters.kafka_health import Health
from services.reporting.commands import (
    BudgetQuery,
    CoverageQuery,
    DashboardQuery,
    ForecastQuery,
    HealthQuery,
    ObjectionsQuery,
    OverviewQuery,
    RejectionsQuery,
)
from services.reporting.domain import figures, labels, objections, readmodel, tallies
from services.reporting.handlers import outreach
from shared import messaging
from shared.auth import Role, in_area
from shared.contracts import Envelope
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:  # bootstrap imports the forecast job's handlers
    from services.reporting.bootstrap import Deps

Report = dict[str, Any]  # a JSON answer, as the API returns it


async def apply_events(_deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    """Handler of the one consumer group: lock the batch's rows, merge the new facts in, save the rows and the
    tallies' deltas (old rows out, new rows in: domain/tallies.py). Produces nothing.

    Objection events fold into their own rows (one per objection, domain/objections.py)."""
    objection_events = [e for e in events if isinstance(e.payload, objections.OBJECTION_EVENTS)]
    facts = readmodel.fold(e for e in events if not isinstance(e.payload, objections.OBJECTION_EVENTS))
    if facts:
        existing = await repository.lock_rows(conn, list(facts))
        changes = [(existing.get(nid), readmodel.merge(existing.get(nid), row)) for nid, row in facts.items()]
        await repository.save(conn, [new for _, new in changes])
        await repository.save_tallies(conn, tallies.deltas(changes))
    await repository.save_objections(conn, objections.fold(objection_events))
    return []


# ------------------------------------------------------------------------------------------------ queries


async def overview(deps: Deps, conn: Conn, query: OverviewQuery) -> Handled[Report]:
    return Handled(await _overview(deps, conn, query.lang, query.area))


async def coverage(deps: Deps, conn: Conn, query: CoverageQuery) -> Handled[Report]:
    return Handled(await _coverage(deps, conn, query.lang, query.kecamatan, query.top_desa, query.area))


async def budget(deps: Deps, conn: Conn, _query: BudgetQuery) -> Handled[Report]:
    return Handled(await _budget(deps, conn))


async def rejections(_deps: Deps, conn: Conn, query: RejectionsQuery) -> Handled[Report]:
    return Handled(await _rejections(conn, query.lang, query.limit, query.area))


async def review_queue(_deps: Deps, conn: Conn, _query: HealthQuery) -> Handled[int]:
    return Handled((await repository.status_counts(conn)).get("in_review", 0))


async def health(deps: Deps, query: HealthQuery) -> Report:
    """Consumer lag per service and group, dead letters per topic (from Kafka), the review queue (a transaction)."""
    reading = await deps.kafka_health.read()
    return _health(reading, await messaging.run(deps, review_queue, query))


async def dashboard_figures(deps: Deps, conn: Conn, query: DashboardQuery) -> Handled[Report]:
    """The dashboard's figures from the read model, scoped to the caller's area (a nominator's desa/kecamatan)."""
    area = _area_of(query)
    programme = area is None  # budget and pipeline health are the programme's, not a village's
    budget = await _budget(deps, conn) if programme else None
    settings = deps.settings
    today = outreach.local_today()
    forecast = (
        (await outreach.forecast_report(deps, conn, ForecastQuery(as_of=today, lang=query.lang))).answer
        if programme
        else None
    )
    objection_query = ObjectionsQuery(lang=query.lang, today=today, area=area)
    return Handled(
        {
            "area": area,
            "forecast": forecast,
            "objections": await outreach.objection_counts(deps, conn, objection_query),
            "area_name": figures.region_name(deps.regions, area) if area else None,
            "overview": await _overview(deps, conn, query.lang, area),
            "coverage": await _coverage(deps, conn, query.lang, None, 20, area),
            "rejections": await _rejections(conn, query.lang, 10, area),
            "budget": budget,
            "cost": figures.target_cost(settings.target, _premium(deps), budget) if budget else None,
            "health": None,
            "regency": settings.programme_regency,
        }
    )


async def dashboard(deps: Deps, query: DashboardQuery) -> Report:
    """Everything the page and its XLSX export show: the figures (one transaction), then, for the programme's
    viewers, Kafka's pipeline health (its review queue is the overview's: the same count, read once)."""
    reports = await messaging.run(deps, dashboard_figures, query)
    if reports["area"] is None:
        reports["health"] = _health(await deps.kafka_health.read(), reports["overview"]["review_queue"])
    return reports


# ------------------------------------------------------------------------------------------------ the reports


def _area_of(query: DashboardQuery) -> str | None:
    return query.caller.area if query.caller.role is Role.NOMINATOR else None


def _premium(deps: Deps) -> int:
    sources = deps.settings.funding_sources
    return sources[0].premium_idr if sources else 0


def _kecamatan_codes(deps: Deps) -> list[str]:
    return [r.code for r in deps.regions.children(deps.settings.programme_regency)]


def kecamatan_targets(deps: Deps) -> dict[str, int]:
    """People to cover per kecamatan of the regency (``PAYUNG_KECAMATAN_TARGETS``, the rest shared equally)."""
    settings = deps.settings
    return figures.kecamatan_targets(_kecamatan_codes(deps), settings.kecamatan_targets, settings.target)


async def _overview(deps: Deps, conn: Conn, lang: labels.Lang, area: str | None) -> Report:
    """``area``: only nominations of that desa/kecamatan (a nominator's scope); the target is then the area's."""
    counts = await repository.status_counts(conn, area)
    by_status = {s: counts.get(s, 0) for s in readmodel.STATUSES}
    covered = by_status["enrolled"]
    target = deps.settings.target if area is None else figures.area_target(kecamatan_targets(deps), area)
    return {
        "target": target,
        "nominated": sum(by_status.values()),
        "covered": covered,
        "coverage_share": covered / target if target else 0.0,
        "review_queue": by_status["in_review"],
        "by_status": [{"status": s, "label": labels.status(s, lang), "count": n} for s, n in by_status.items()],
        "notifications": await repository.notification_totals(conn, area),
    }


async def _coverage(
    deps: Deps, conn: Conn, lang: labels.Lang, kecamatan: str | None, top_desa: int, area: str | None
) -> Report:
    """Coverage over time and by kecamatan, desa, worker category and funding source.

    Every kecamatan of the programme's regency is listed (with zeros), so an area nobody nominated from shows.
    """
    settings = deps.settings
    nominated, enrolled, ended = await repository.per_day(conn, area)
    series = [
        {"day": p.day.isoformat(), "nominated": p.nominated, "covered": p.covered}
        for p in figures.coverage_series(nominated, enrolled, ended)
    ]
    areas = {r["code"]: r for r in await repository.by_area(conn, "kecamatan", area=area)}
    empty = {"nominated": 0, "covered": 0, "waitlisted": 0, "rejected": 0}
    kecamatan_rows = []
    regency_kecamatan = _kecamatan_codes(deps)
    if area is not None:  # a nominator's scope: its own kecamatan only
        regency_kecamatan = [c for c in regency_kecamatan if in_area(c, area) or in_area(area, c)]
    targets = kecamatan_targets(deps)
    for code in sorted(set(regency_kecamatan) | {c for c in areas if c}):
        row = {**empty, **areas.get(code, {})}
        target = targets.get(code, 0)
        kecamatan_rows.append(
            {
                **row,
                "code": code,
                "name": figures.region_name(deps.regions, code),
                "target": target,
                "target_share": row["covered"] / target if target else 0.0,
            }
        )
    kecamatan_rows.sort(key=lambda r: (-r["covered"], -r["nominated"], r["name"]))
    desa = await repository.by_area(conn, "desa", kecamatan, area=area)
    desa_rows = [
        {**r, "name": figures.region_name(deps.regions, r["code"])} for r in (desa if kecamatan else desa[:top_desa])
    ]
    occupations = [
        {**r, "label": labels.occupation(r["code"], lang)} for r in await repository.by_occupation(conn, area)
    ]
    active = await repository.active_by_source(conn, settings.programme_year)
    sources = [
        {"code": b.code, "name": b.name, "covered": b.active, "quota": b.quota}
        for b in figures.budgets(settings.funding_sources, active)
    ]
    return {
        "target": settings.target,
        "series": series,
        "by_kecamatan": kecamatan_rows,
        "by_desa": desa_rows,
        "by_occupation": occupations,
        "by_funding_source": sources,
    }


async def _budget(deps: Deps, conn: Conn) -> Report:
    settings = deps.settings
    active = await repository.active_by_source(conn, settings.programme_year)
    sources = [{**asdict(b), "used_share": b.used_share} for b in figures.budgets(settings.funding_sources, active)]
    totals = {
        key: sum(s[key] for s in sources)
        for key in ("quota", "active", "yearly_allocated_idr", "yearly_committed_idr", "monthly_committed_idr")
    }
    return {"programme_year": settings.programme_year, "sources": sources, "totals": totals}


async def _rejections(conn: Conn, lang: labels.Lang, limit: int, area: str | None) -> Report:
    counts = await repository.status_counts(conn, area)
    reasons = await repository.rejection_reasons(conn, limit, area)
    return {
        "rejected": counts.get("rejected", 0),
        "reasons": [{"code": code, "label": labels.reason(code, lang), "count": n} for code, n in reasons],
    }


def _health(reading: Health, review_queue: int) -> Report:
    return {
        "kafka": "ok" if reading.error is None else reading.error,
        "lag_by_service": reading.lag_by_service,
        "lag_by_group": reading.lag_by_group,
        "dead_letters": reading.dead_letters,
        "dead_letters_total": sum(reading.dead_letters.values()),
        "review_queue": review_queue,
    }
