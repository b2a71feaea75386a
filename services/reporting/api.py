"""JSON API of the reporting service (what the dashboard and ``payung report`` read).

Every answer holds codes, labels and counts: never a NIK or a name. ``?lang=en`` gives English labels.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from services.reporting import handlers, labels
from services.reporting.settings import ReportingSettings
from shared.service import Runtime, runtime

router = APIRouter(prefix="/v1/reports", tags=["reports"])
KECAMATAN = r"^\d{2}\.\d{2}\.\d{2}$"
RuntimeDep = Annotated[Runtime[ReportingSettings], Depends(runtime)]
LangQuery = Annotated[str, Query(pattern="^(id|en)$", description="Label language")]


def _settings(rt: Runtime[ReportingSettings]) -> ReportingSettings:
    return rt.settings


@router.get("/overview")
async def overview(rt: RuntimeDep, lang: LangQuery = "id") -> dict[str, Any]:
    """Nominations by status, people covered against the target, the review queue."""
    return await handlers.overview_report(rt.pool, _settings(rt), labels.lang_of(lang))


@router.get("/coverage")
async def coverage(
    rt: RuntimeDep,
    lang: LangQuery = "id",
    kecamatan: Annotated[str | None, Query(pattern=KECAMATAN, description="List all desa of this kecamatan")] = None,
) -> dict[str, Any]:
    """Coverage by day, kecamatan, desa (top 20, or all of ``kecamatan``), worker category and funding source."""
    return await handlers.coverage_report(rt.pool, _settings(rt), labels.lang_of(lang), kecamatan)


@router.get("/budget")
async def budget(rt: RuntimeDep) -> dict[str, Any]:
    """Per funding source of the programme year: allocated (quota x premium) versus committed (active seats x
    premium), per month and per year, in rupiah."""
    return await handlers.budget_report(rt.pool, _settings(rt))


@router.get("/rejections")
async def rejections(
    rt: RuntimeDep, lang: LangQuery = "id", limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict[str, Any]:
    """The most frequent rejection reason codes."""
    return await handlers.rejections_report(rt.pool, labels.lang_of(lang), limit)


@router.get("/health")
async def health(rt: RuntimeDep) -> dict[str, Any]:
    """Consumer lag per service and consumer group, dead letters per topic, the review queue."""
    return await handlers.health_report(rt.pool, rt.resources["kafka_health"])
