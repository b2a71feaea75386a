"""Every table of the dashboard as an XLSX workbook (openpyxl): one sheet per table, numbers as numbers.

The workbook holds what the page shows to the same viewer (a nominator's area only), codes next to names so a
spreadsheet can join it with the region list; no personal data, as on the page.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from services.reporting.domain import labels

Rows = list[list[Any]]


def _sheet(wb: Workbook, title: str, header: list[str], rows: Rows) -> None:
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    ws.freeze_panes = "A2"
    for i, name in enumerate(header, start=1):
        width = max([len(str(name))] + [len(str(r[i - 1])) for r in rows if len(r) >= i]) + 2
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(width, 60)


def tables(reports: dict[str, Any], lang: labels.Lang) -> list[tuple[str, list[str], Rows]]:
    """(sheet title, header, rows) of every table of the page."""
    t = {key: labels.text(key, lang) for key in labels.TEXT}
    o, c, rej = reports["overview"], reports["coverage"], reports["rejections"]
    out: list[tuple[str, list[str], Rows]] = [
        (
            t["sheet_overview"],
            [t["status"], t["count"]],
            [[s["label"], s["count"]] for s in o["by_status"]]
            + [[t["target"], o["target"]], [t["covered"], o["covered"]], [t["share_of_target"], o["coverage_share"]]],
        ),
        (
            t["sheet_kecamatan"],
            [
                t["code"],
                t["name"],
                t["target"],
                t["covered"],
                t["share_of_target"],
                t["nominated"],
                t["waitlisted"],
                t["rejected"],
            ],
            [
                [
                    k["code"],
                    k["name"],
                    k["target"],
                    k["covered"],
                    k["target_share"],
                    k["nominated"],
                    k["waitlisted"],
                    k["rejected"],
                ]
                for k in c["by_kecamatan"]
            ],
        ),
        (
            t["sheet_desa"],
            [t["code"], t["name"], t["covered"], t["nominated"], t["waitlisted"], t["rejected"]],
            [
                [d["code"], d["name"], d["covered"], d["nominated"], d["waitlisted"], d["rejected"]]
                for d in c["by_desa"]
            ],
        ),
        (
            t["sheet_occupation"],
            [t["code"], t["name"], t["covered"], t["nominated"]],
            [[x["code"], x["label"], x["covered"], x["nominated"]] for x in c["by_occupation"]],
        ),
        (
            t["sheet_rejections"],
            [t["code"], t["reason"], t["count"]],
            [[r["code"], r["label"], r["count"]] for r in rej["reasons"]],
        ),
        (
            t["sheet_daily"],
            [t["day"], t["nominated"], t["covered"]],
            [[p["day"], p["nominated"], p["covered"]] for p in c["series"]],
        ),
    ]
    budget, cost = reports.get("budget"), reports.get("cost")
    if budget and cost:
        rows: Rows = [
            [s["code"], s["name"], s["quota"], s["active"], s["premium_idr"], s["yearly_committed_idr"],
             s["yearly_allocated_idr"]] for s in budget["sources"]
        ]  # fmt: skip
        tot = budget["totals"]
        rows.append(
            ["", "Total", tot["quota"], tot["active"], "", tot["yearly_committed_idr"], tot["yearly_allocated_idr"]]
        )
        rows.append([])
        rows.append(["", t["cost_yearly"], cost["target"], "", cost["premium_idr"], "", cost["yearly_cost_idr"]])
        rows.append(["", t["gap"], "", "", "", "", cost["gap_idr"]])
        out.insert(
            4,
            (
                t["sheet_budget"],
                [t["code"], t["by_source"], t["quota"], t["seats"], t["premium"], t["committed"], t["allocated"]],
                rows,
            ),
        )
    forecast = reports.get("forecast")
    if forecast:
        out.append(
            (
                t["sheet_forecast"],
                [t["code"], t["by_source"], t["quota"], t["enrolled"], t["pace"], t["forecast_enrolled"],
                 t["seats_left"], t["unspent"]],
                [[s["funding_source"], s["name"], s["quota"], s["enrolled"], round(s["pace_per_day"], 2),
                  s["forecast_enrolled"], s["seats_left"], s["unspent_rupiah"]] for s in forecast["sources"]]
                + [[]]
                + [[d["desa_code"], d["name"], t["nominated"], d["nominations"], t["eligible_population"],
                    d["eligible_population"]] for d in forecast["desa"]]
                + [[o["code"], o["label"], t["under_represented"]] for o in forecast["under_represented"]],
            )
        )  # fmt: skip
    objections = reports.get("objections")
    if objections:
        out.append(
            (
                t["sheet_objections"],
                [t["code"], t["reason"], t["state"], t["age_days"], t["count"]],
                [[r["reason"], r["label"], r["state"], r["age"], r["count"]] for r in objections["rows"]]
                + [[]]
                + [
                    [d["code"], d["name"], t["objections_overdue"], "", d["count"]]
                    for d in objections["overdue_by_desa"]
                ],
            )
        )
    health = reports.get("health")
    if health:
        out.append(
            (
                t["sheet_health"],
                [t["service"], t["lag"]],
                [[k, v] for k, v in health["lag_by_service"].items()]
                + [[f"{k}.dlq", v] for k, v in health["dead_letters"].items()],
            )
        )
    return out


def workbook(reports: dict[str, Any], lang: labels.Lang) -> bytes:
    wb = Workbook()
    first = wb.active
    assert isinstance(first, Worksheet)  # a new workbook opens on one empty worksheet
    wb.remove(first)
    for title, header, rows in tables(reports, lang):
        _sheet(wb, title, header, rows)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
