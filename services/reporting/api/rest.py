"""JSON API of the reporting service (what the dashboard and ``payung report`` read).

Every answer holds codes, labels and counts: never a NIK or a name. ``?lang=en`` gives English labels.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.reporting import bootstrap, handlers
from services.reporting.commands import (
    BudgetQuery,
    CoverageQuery,
    ForecastQuery,
    HealthQuery,
    ObjectionsQuery,
    OverviewQuery,
    RejectionsQuery,
)
from services.reporting.domain import labels
from services.reporting.handlers import outreach
from shared import messaging

router = APIRouter(prefix="/v1/reports", tags=["reports"])
KECAMATAN = r"^\d{2}\.\d{2}\.\d{2}$"
DepsDep = Annotated[bootstrap.Deps, Depends(bootstrap.deps)]
LangQuery = Annotated[str, Query(pattern="^(id|en)$", description="Label language")]


@router.get("/overview")
async def overview(deps: DepsDep, lang: LangQuery = "id") -> dict[str, Any]:
    """Nominations by status, people covered against the target, the review queue."""
    return await messaging.run(deps, handlers.overview, OverviewQuery(lang=labels.lang_of(lang)))


@router.get("/coverage")
async def coverage(
    deps: DepsDep,
    lang: LangQuery = "id",
    kecamatan: Annotated[str | None, Query(pattern=KECAMATAN, description="List all desa of this kecamatan")] = None,
) -> dict[str, Any]:
    """Coverage by day, kecamatan, desa (top 20, or all of ``kecamatan``), worker category and funding source."""
    query = CoverageQuery(lang=labels.lang_of(lang), kecamatan=kecamatan)
    return await messaging.run(deps, handlers.coverage, query)


@router.get("/budget")
async def budget(deps: DepsDep) -> dict[str, Any]:
    """Per funding source of the programme year: allocated (quota x premium) versus committed (active seats x
    premium), per month and per year, in rupiah."""
    return await messaging.run(deps, handlers.budget, BudgetQuery())


@router.get("/rejections")
async def rejections(
    deps: DepsDep, lang: LangQuery = "id", limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict[str, Any]:
    """The most frequent rejection reason codes."""
    return await messaging.run(deps, handlers.rejections, RejectionsQuery(lang=labels.lang_of(lang), limit=limit))


@router.get("/health")
async def health(deps: DepsDep) -> dict[str, Any]:
    """Consumer lag per service and consumer group, dead letters per topic, the review queue."""
    # Kafka is read before the handler's transaction (handlers.py says why), so this route calls the handler.
    return await handlers.health(deps, HealthQuery())


@router.get("/forecast")
async def forecast(deps: DepsDep) -> dict[str, Any]:
    """The forecast of unfilled seats per funding source today (WITA): quota, enrolled, pace, forecast, seats
    left, unspent rupiah; the desa with the fewest nominations per eligible population; under-represented
    categories (docs/outreach.md)."""
    return await messaging.run(deps, outreach.forecast_report, ForecastQuery(as_of=outreach.local_today()))


@router.get("/objections")
async def objections(deps: DepsDep, lang: LangQuery = "id") -> dict[str, Any]:
    """Objections by reason, state and age bucket (0-7, 8-14, 15-30, >30 days); the overdue ones per desa."""
    query = ObjectionsQuery(lang=labels.lang_of(lang), today=outreach.local_today())
    return await messaging.run(deps, outreach.objections_report, query)
