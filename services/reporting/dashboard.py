"""The dashboard: one server-rendered HTML page (Jinja2) with inline SVG charts, no JavaScript.

The geometry of the charts (polyline points, bar widths, map tiles) is computed here, so the page needs no chart
library and renders the same in any browser, printed or offline. ``?lang=en`` switches the labels to English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.reporting import handlers, labels
from services.reporting.settings import ReportingSettings
from shared import websession
from shared.auth import READERS, Principal, Role
from shared.service import Runtime, runtime

router = APIRouter(tags=["dashboard"])
PAGE_ROLES = READERS | {Role.NOMINATOR}  # a nominator sees its own area only
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def rupiah(value: int) -> str:
    """``3024000000`` -> ``Rp3.024.000.000`` (Indonesian thousands separator)."""
    return "Rp" + f"{value:,}".replace(",", ".")


def number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


_ENV.filters["rupiah"] = rupiah
_ENV.filters["number"] = number


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    lines: list[tuple[str, str, str]]  # (css class, label, "x,y x,y ...")
    y_max: int
    first_day: str
    last_day: str


def line_chart(
    series: list[dict[str, Any]], keys: list[tuple[str, str]], width: int = 640, height: int = 180
) -> LineChart:
    """Polylines of cumulative counts per day, all on one scale (the largest value)."""
    y_max = max([max((p[k] for p in series), default=0) for k, _ in keys] + [1])
    n = len(series)
    lines = []
    for key, label in keys:
        points = " ".join(
            f"{(i / (n - 1) if n > 1 else 0.5) * width:.1f},{height - p[key] / y_max * height:.1f}"
            for i, p in enumerate(series)
        )
        lines.append((key, label, points))
    first = series[0]["day"] if series else ""
    last = series[-1]["day"] if series else ""
    return LineChart(width, height, lines, y_max, first, last)


def bars(rows: list[dict[str, Any]], value: str, scale_to: int | None = None) -> list[dict[str, Any]]:
    """Each row with ``pct``: its ``value`` as a percentage of ``scale_to`` or of the largest row (0..100)."""
    top = scale_to or max((r[value] for r in rows), default=0)
    return [{**r, "pct": min(100.0, 100.0 * r[value] / top) if top else 0.0} for r in rows]


@dataclass(frozen=True)
class Tile:
    x: int
    y: int
    name: str
    covered: int
    nominated: int
    fill: str


def tiles(rows: list[dict[str, Any]], columns: int = 4, size: int = 104) -> tuple[list[Tile], int, int]:
    """A tile map of the kecamatan: one square each, darker green for more people covered."""
    ordered = sorted(rows, key=lambda r: r["code"])  # code order keeps neighbours roughly together
    top = max((r["covered"] for r in ordered), default=0)
    out = []
    for i, r in enumerate(ordered):
        strength = r["covered"] / top if top else 0.0
        lightness = 94 - int(strength * 60)  # 94% (none) to 34% (the most)
        out.append(
            Tile(
                (i % columns) * size,
                (i // columns) * size,
                r["name"],
                r["covered"],
                r["nominated"],
                f"hsl(145, 55%, {lightness}%)",
            )
        )
    rows_count = (len(out) + columns - 1) // columns
    return out, columns * size, rows_count * size


@router.get("/", response_class=HTMLResponse)
@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(
    request: Request,
    rt: Annotated[Runtime, Depends(runtime)],
    who: Annotated[Principal, Depends(websession.page_guard(PAGE_ROLES))],
    lang: Annotated[str, Query(pattern="^(id|en)$")] = "id",
) -> HTMLResponse:
    """The dashboard page (Bahasa Indonesia; ``?lang=en`` for English)."""
    language = labels.lang_of(lang)
    settings = cast(ReportingSettings, rt.settings)
    overview = await handlers.overview_report(rt.pool, settings, language)
    coverage = await handlers.coverage_report(rt.pool, settings, language)
    budget = await handlers.budget_report(rt.pool, settings)
    rejections = await handlers.rejections_report(rt.pool, language)
    health = await handlers.health_report(rt.pool, rt.resources["kafka_health"])
    t = {key: labels.text(key, language) for key in labels.TEXT}
    map_tiles, map_w, map_h = tiles(coverage["by_kecamatan"])
    html = _ENV.get_template("dashboard.html.j2").render(
        lang=language,
        other_lang="en" if language == "id" else "id",
        t=t,
        overview=overview,
        chart=line_chart(coverage["series"], [("nominated", t["nominated"]), ("covered", t["covered"])]),
        kecamatan=bars(coverage["by_kecamatan"], "nominated"),
        desa=bars(coverage["by_desa"], "nominated"),
        occupations=bars(coverage["by_occupation"], "nominated"),
        sources=bars(coverage["by_funding_source"], "quota"),
        budget=budget,
        budget_bars=bars(budget["sources"], "yearly_allocated_idr"),
        rejections=bars(rejections["reasons"], "count"),
        health=health,
        tiles=map_tiles,
        map_w=map_w,
        map_h=map_h,
        now=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return HTMLResponse(html)
