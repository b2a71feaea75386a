"""What the operator commands of ``payung`` need: where the services are, credentials, and report tables.

The commands talk to the services' HTTP APIs only (never to a database). Addresses default to the local stack's
(``PAYUNG_*_PORT``); ``PAYUNG_<SERVICE>_URL`` (e.g. ``PAYUNG_REPORTING_URL=https://...``) points at a deployment.
``PAYUNG_API_KEY`` is sent as ``Authorization: Bearer`` (and as ``X-API-Key`` when it is a Payung API key);
without it requests go out unauthenticated, which a service that requires authentication answers with 401.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from typing import Any

from deploy.native.config import StackConfig

API_KEY_PREFIX = "pyg_"  # shared.auth.KEY_PREFIX: such a key also goes as X-API-Key


def service_url(name: str, cfg: StackConfig | None = None) -> str:
    override = os.environ.get(f"PAYUNG_{name.upper()}_URL")
    if override:
        return override.rstrip("/")
    cfg = cfg or StackConfig()
    return f"http://{cfg.host}:{cfg.service_port(name)}"


def auth_headers() -> dict[str, str]:
    key = os.environ.get("PAYUNG_API_KEY", "").strip()
    if not key:
        return {}
    headers = {"Authorization": f"Bearer {key}"}
    if key.startswith(API_KEY_PREFIX):
        headers["X-API-Key"] = key
    return headers


Table = tuple[list[str], list[list[Any]]]


def coverage_table(report: dict[str, Any]) -> Table:
    header = ["kecamatan", "nama", "diusulkan", "terlindungi", "daftar_tunggu", "ditolak"]
    rows = [
        [k["code"], k["name"], k["nominated"], k["covered"], k["waitlisted"], k["rejected"]]
        for k in report["by_kecamatan"]
    ]
    return header, rows


def rejections_table(report: dict[str, Any]) -> Table:
    return ["kode", "alasan", "jumlah"], [[r["code"], r["label"], r["count"]] for r in report["reasons"]]


def forecast_table(report: dict[str, Any]) -> Table:
    """Per funding source: the forecast of unfilled seats (GET /v1/reports/forecast)."""
    header = [
        "sumber_dana",
        "kuota",
        "terisi",
        "laju_per_hari",
        "perkiraan_terisi",
        "kursi_tersisa",
        "tak_terserap_idr",
    ]
    rows = [
        [s["funding_source"], s["quota"], s["enrolled"], round(s["pace_per_day"], 2), s["forecast_enrolled"],
         s["seats_left"], s["unspent_rupiah"]] for s in report["sources"]
    ]  # fmt: skip
    return header, rows


def objections_table(report: dict[str, Any]) -> Table:
    """Objections by reason, state and age bucket (GET /v1/reports/objections)."""
    return ["alasan", "tahap", "umur_hari", "jumlah"], [
        [r["reason"], r["state"], r["age"], r["count"]] for r in report["rows"]
    ]


def budget_table(report: dict[str, Any]) -> Table:
    header = ["sumber_dana", "nama", "kuota", "aktif", "premi_idr", "terpakai_setahun_idr", "alokasi_setahun_idr"]
    rows = [
        [
            s["code"],
            s["name"],
            s["quota"],
            s["active"],
            s["premium_idr"],
            s["yearly_committed_idr"],
            s["yearly_allocated_idr"],
        ]
        for s in report["sources"]
    ]
    return header, rows


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table[0])
    writer.writerows(table[1])
    return out.getvalue()


def to_text(table: Table) -> str:
    header, rows = table
    cells = [header, *[[_fmt(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    return f"{value:,}".replace(",", ".") if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _numeric(text: str) -> bool:
    return text.replace(".", "").isdigit()


def history_lines(view: dict[str, Any]) -> Sequence[str]:
    """A nomination's status and history for the terminal (the API shows no personal data, nor does this)."""
    lines = [
        f"nomination  {view['nomination_id']}",
        f"status      {view['status']}" + (f" (outcome {view['outcome']})" if view.get("outcome") else ""),
        f"desa        {view['desa_code']}   occupation {view['occupation']}",
    ]
    if view.get("membership_number"):
        lines.append(f"membership  {view['membership_number']} paid by {view.get('funding_source')}")
    if view.get("waitlist_position"):
        lines.append(f"waitlist    position {view['waitlist_position']}")
    for reason in view.get("reasons") or []:
        lines.append(f"reason      {reason.get('code')}: {reason.get('detail', '')}")
    lines.append("history")
    for entry in view.get("history") or []:
        detail = ", ".join(f"{k}={v}" for k, v in (entry.get("detail") or {}).items())
        lines.append(f"  {entry['at']}  {entry['stage']:<20} {detail}".rstrip())
    return lines
