"""The reporting service's queries: frozen models a route builds from the request and hands to a handler.

Every query answers with codes, labels and counts only. ``lang`` picks the labels' language; ``area`` (a dotted
desa, kecamatan or regency code) narrows the counts to a nominator's scope, ``None`` being the whole programme.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from services.reporting.domain.labels import Lang
from shared.auth import Principal


class Query(BaseModel):
    model_config = ConfigDict(frozen=True)


class OverviewQuery(Query):
    """Nominations by status, people covered against the target, the review queue."""

    lang: Lang = "id"
    area: str | None = None


class CoverageQuery(Query):
    """Coverage by day, kecamatan, desa (the top ``top_desa``, or all of ``kecamatan``), category and source."""

    lang: Lang = "id"
    kecamatan: str | None = None
    top_desa: int = 20
    area: str | None = None


class BudgetQuery(Query):
    """Allocated versus committed per funding source of the programme year."""


class RejectionsQuery(Query):
    """The most frequent rejection reason codes."""

    lang: Lang = "id"
    limit: int = 10
    area: str | None = None


class HealthQuery(Query):
    """Consumer lag, dead letters, the review queue."""


class DashboardQuery(Query):
    """Everything the dashboard page and its XLSX export show, scoped to the caller (a nominator: its area)."""

    lang: Lang = "id"
    caller: Principal


class ForecastQuery(Query):
    """The forecast of unfilled seats per funding source at the end of ``as_of`` (nothing recorded)."""

    as_of: date
    lang: Lang = "id"


class RunForecast(Query):
    """Record the day's forecast per funding source and publish ``QuotaShortfallForecast`` for each source that will
    not fill: once per (source, ``as_of``), whoever runs it (the daily job, the command, a second replica)."""

    as_of: date


class ObjectionsQuery(Query):
    """Objections by reason, state and age bucket, and the overdue ones per desa, on ``today`` (local)."""

    lang: Lang = "id"
    today: date
    area: str | None = None


class LoadPopulation(Query):
    """Replace the eligible population per desa (the CSV's rows, validated)."""

    rows: tuple[tuple[str, int], ...] = Field(max_length=100_000)
