"""Reporting use cases: the read model's fold and the report queries (reports), issue 15's forecast, population
and objection counts (outreach)."""

from services.reporting.handlers.reports import (
    Report,
    apply_events,
    budget,
    coverage,
    dashboard,
    dashboard_figures,
    health,
    kecamatan_targets,
    overview,
    rejections,
    review_queue,
)

__all__ = [
    "Report",
    "apply_events",
    "budget",
    "coverage",
    "dashboard",
    "dashboard_figures",
    "health",
    "kecamatan_targets",
    "overview",
    "rejections",
    "review_queue",
]
