"""The dashboard: one server-rendered HTML page (Jinja2) with inline SVG charts and map, no JavaScript.

The geometry of the charts (polyline points, bar widths) is computed in domain/charts.py and the kecamatan map in
domain/geomap.py, so the page needs no chart library or tile server and renders the same in any browser, printed or
offline. ``?lang=en`` switches the labels to English; numbers and times follow the language (Babel,
domain/formats.py) and times are WITA. A browser opens it after signing in (shared/websession.py); scripts send an
API key. A nominator sees its own area only. ``/dashboard.xlsx`` exports every table; the page's print stylesheet
is its print view.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from services.reporting import bootstrap, handlers
from services.reporting.api import export
from services.reporting.commands import DashboardQuery
from services.reporting.domain import charts, formats, geomap, labels
from services.reporting.domain.readmodel import WITA
from shared import websession
from shared.auth import READERS, Principal, Role

router = APIRouter(tags=["dashboard"])
PAGE_ROLES = READERS | {Role.NOMINATOR}  # a nominator sees its own area only
_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["rupiah"] = charts.rupiah
_ENV.filters["number"] = charts.number


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

PageUser = Annotated[Principal, Depends(websession.page_guard(PAGE_ROLES))]
LangParam = Annotated[str, Query(pattern="^(id|en)$")]
DepsDep = Annotated[bootstrap.Deps, Depends(bootstrap.deps)]


@router.get("/", response_class=HTMLResponse)
@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard(
    request: Request,
    who: PageUser,  # first: nobody reaches the resources before the guard
    deps: DepsDep,
    lang: LangParam = "id",
    print_view: Annotated[bool, Query(alias="print")] = False,
) -> HTMLResponse:
    """The dashboard page (Bahasa Indonesia; ``?lang=en`` for English), for a signed-in person or an API key."""
    language = labels.lang_of(lang)
    # Kafka's health is read outside the figures' transaction (handlers.py says why): the route calls the handler.
    r = await handlers.dashboard(deps, DashboardQuery(lang=language, caller=who))
    coverage, budget = r["coverage"], r["budget"]
    t = {key: labels.text(key, language) for key in labels.TEXT}
    shapes, map_w, map_h = geomap.coverage_map(deps.kecamatan_map, coverage["by_kecamatan"])
    fmt = formats.Formats(language)
    bars = charts.bars
    html = _ENV.get_template("dashboard.html.j2").render(
        lang=language,
        other_lang="en" if language == "id" else "id",
        t=t,
        f=fmt,
        **websession.template_context(request),
        who=who,
        area_name=r["area_name"],
        overview=r["overview"],
        chart=charts.line_chart(coverage["series"], [("nominated", t["nominated"]), ("covered", t["covered"])]),
        kecamatan=bars(coverage["by_kecamatan"], "nominated"),
        desa=bars(coverage["by_desa"], "nominated"),
        occupations=bars(coverage["by_occupation"], "nominated"),
        budget=budget,
        budget_bars=bars(budget["sources"], "yearly_allocated_idr") if budget else [],
        cost=r["cost"],
        rejections=bars(r["rejections"]["reasons"], "count"),
        health=r["health"],
        forecast=r["forecast"],
        objections=r["objections"],
        objection_states={code: labels.objection_state(code, language) for code in labels.OBJECTION_STATE},
        shapes=shapes,
        map_w=map_w,
        map_h=map_h,
        legend=list(zip(geomap.STEPS, geomap.COLOURS, strict=True)),
        now=fmt.when(datetime.now(UTC)),
        print_view=print_view,
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/dashboard.xlsx", include_in_schema=False)
async def dashboard_xlsx(who: PageUser, deps: DepsDep, lang: LangParam = "id") -> Response:
    """Every table of the dashboard as one sheet each of an XLSX workbook, in the page's language and scope."""
    language = labels.lang_of(lang)
    body = export.workbook(await handlers.dashboard(deps, DashboardQuery(lang=language, caller=who)), language)
    name = f"dasbor-payung-{datetime.now(UTC).astimezone(WITA):%Y%m%d-%H%M}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
