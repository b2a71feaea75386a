"""The dashboard: one server-rendered HTML page (Jinja2) with inline SVG charts and map, no JavaScript.

The geometry of the charts (polyline points, bar widths) is computed here and the kecamatan map in geomap.py, so
the page needs no chart library or tile server and renders the same in any browser, printed or offline.
``?lang=en`` switches the labels to English; numbers and times follow the language (Babel, formats.py) and times
are WITA. A browser opens it after signing in (shared/websession.py); scripts send an API key. A nominator sees its
own area only. ``/dashboard.xlsx`` exports every table; the page's print stylesheet is its print view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from services.reporting import export, formats, geomap, handlers, labels
from services.reporting.domain import WITA
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


@pass_context
def _num(ctx: Context, value: float) -> str:
    """``{{ n|num }}``: a number in the page's language (the ``f`` of the render call)."""
    f: formats.Formats = ctx["f"]
    return f.number(value)


@pass_context
def _idr(ctx: Context, value: float) -> str:
    f: formats.Formats = ctx["f"]
    return f.rupiah(value)


_ENV.filters["num"] = _num
_ENV.filters["idr"] = _idr


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


async def _reports(rt: Runtime[ReportingSettings], language: labels.Lang, who: Principal) -> dict[str, Any]:
    """Everything the page and its XLSX export show, scoped to the viewer's area (a nominator's desa/kecamatan)."""
    settings = rt.settings
    area = who.area if who.role is Role.NOMINATOR else None
    overview = await handlers.overview_report(rt.pool, settings, language, area=area)
    coverage = await handlers.coverage_report(rt.pool, settings, language, area=area)
    rejections = await handlers.rejections_report(rt.pool, language, area=area)
    programme = area is None  # budget and pipeline health are the programme's, not a village's
    budget = await handlers.budget_report(rt.pool, settings) if programme else None
    health = await handlers.health_report(rt.pool, rt.resources["kafka_health"]) if programme else None
    return {
        "area": area,
        "area_name": handlers.region_name(area) if area else None,
        "overview": overview,
        "coverage": coverage,
        "rejections": rejections,
        "budget": budget,
        "cost": handlers.target_cost(settings, budget) if budget else None,
        "health": health,
        "regency": settings.programme_regency,
    }


PageUser = Annotated[Principal, Depends(websession.page_guard(PAGE_ROLES))]
LangParam = Annotated[str, Query(pattern="^(id|en)$")]


@router.get("/", response_class=HTMLResponse)
@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(
    request: Request,
    who: PageUser,  # first: nobody reaches the resources before the guard
    rt: Annotated[Runtime[ReportingSettings], Depends(runtime)],
    lang: LangParam = "id",
    print_view: Annotated[bool, Query(alias="print")] = False,
) -> HTMLResponse:
    """The dashboard page (Bahasa Indonesia; ``?lang=en`` for English), for a signed-in person or an API key."""
    language = labels.lang_of(lang)
    r = await _reports(rt, language, who)
    coverage, budget = r["coverage"], r["budget"]
    t = {key: labels.text(key, language) for key in labels.TEXT}
    shapes, map_w, map_h = geomap.coverage_map(r["regency"], coverage["by_kecamatan"])
    fmt = formats.Formats(language)
    html = _ENV.get_template("dashboard.html.j2").render(
        lang=language,
        other_lang="en" if language == "id" else "id",
        t=t,
        f=fmt,
        **websession.template_context(request),
        who=who,
        area_name=r["area_name"],
        overview=r["overview"],
        chart=line_chart(coverage["series"], [("nominated", t["nominated"]), ("covered", t["covered"])]),
        kecamatan=bars(coverage["by_kecamatan"], "nominated"),
        desa=bars(coverage["by_desa"], "nominated"),
        occupations=bars(coverage["by_occupation"], "nominated"),
        budget=budget,
        budget_bars=bars(budget["sources"], "yearly_allocated_idr") if budget else [],
        cost=r["cost"],
        rejections=bars(r["rejections"]["reasons"], "count"),
        health=r["health"],
        shapes=shapes,
        map_w=map_w,
        map_h=map_h,
        legend=list(zip(geomap.STEPS, geomap.COLOURS, strict=True)),
        now=fmt.when(datetime.now(UTC)),
        print_view=print_view,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/dashboard.xlsx", include_in_schema=False)
async def dashboard_xlsx(
    who: PageUser, rt: Annotated[Runtime[ReportingSettings], Depends(runtime)], lang: LangParam = "id"
) -> Response:
    """Every table of the dashboard as one sheet each of an XLSX workbook, in the page's language and scope."""
    language = labels.lang_of(lang)
    body = export.workbook(await _reports(rt, language, who), language)
    name = f"dasbor-payung-{datetime.now(UTC).astimezone(WITA):%Y%m%d-%H%M}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
