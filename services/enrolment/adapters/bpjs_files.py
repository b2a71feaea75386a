"""The BPJS batch file exchange (``PAYUNG_BPJS_ADAPTER=file``): the month's roster out, BPJS's response in.

Roster: one row per seat waiting for BPJS whose cover starts in the month, as CSV (UTF-8, comma) or XLSX (one
sheet, text cells: a NIK must never become a number). ``reference`` is the nomination id; BPJS is expected to
send it back unchanged in the response file.

Response (CSV or XLSX, by file extension), one row per reference: ``reference, status, membership_number,
refusal_code, refusal_reason`` with status ``registered`` (membership number required, digits) or ``refused``.
Rows that do not parse are reported and not applied; the rest is applied in one transaction.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from services.enrolment.domain import Answer, MembershipRequest, Refused, Registered

ROSTER_COLUMNS = (
    "reference", "category", "nik", "full_name", "birth_date", "sex", "phone", "desa_code", "occupation",
    "payer", "programme_year", "coverage_start",
)  # fmt: skip
RESPONSE_COLUMNS = ("reference", "status", "membership_number", "refusal_code", "refusal_reason")


def roster_row(r: MembershipRequest) -> list[str]:
    return [
        str(r.nomination_id), "BPU", r.nik, r.full_name, r.birth_date.isoformat(), r.sex, r.phone, r.desa_code,
        r.occupation, r.funding_source, str(r.programme_year), r.coverage_start.isoformat(),
    ]  # fmt: skip


def write_roster(requests: Sequence[MembershipRequest], path: Path, fmt: str) -> int:
    rows = [list(ROSTER_COLUMNS), *(roster_row(r) for r in requests)]
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
    elif fmt == "xlsx":
        wb = Workbook()
        ws = wb.active
        assert isinstance(ws, Worksheet)  # a new workbook opens on one empty worksheet
        ws.title = "roster"
        for row in rows:
            ws.append(row)
        for cells in ws.iter_rows(min_row=2):
            for cell in cells:
                cell.number_format = "@"  # text: keeps NIK, phone and codes as typed
        wb.save(path)
    else:
        raise ValueError(f"unknown roster format {fmt!r} (csv or xlsx)")
    return len(requests)


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV or XLSX file as dicts keyed by the (lower-cased) header."""
    if path.suffix.lower() == ".xlsx":
        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            raw: list[list[Any]] = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    else:
        with path.open(newline="", encoding="utf-8-sig") as f:
            raw = list(csv.reader(f))
    if not raw:
        return []
    header = [str(h or "").strip().lower() for h in raw[0]]
    return [
        {h: _text(v) for h, v in zip(header, row, strict=False)}
        for row in raw[1:]
        if any(v not in (None, "") for v in row)
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed into Excel: 12345678901.0 is the membership number 12345678901
    return str(value).strip()


@dataclass
class ParsedResponse:
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "row N: what is wrong"


def parse_response(rows: Iterable[dict[str, str]]) -> ParsedResponse:
    out = ParsedResponse()
    for n, row in enumerate(rows, start=2):  # row 1 is the header
        try:
            reference = uuid.UUID(row.get("reference", ""))
        except ValueError:
            out.errors.append(f"row {n}: reference is not a nomination id")
            continue
        status = row.get("status", "").lower()
        if status == "registered":
            number = row.get("membership_number", "")
            if not number.isdigit():
                out.errors.append(f"row {n}: registered without a numeric membership_number")
                continue
            out.answers.append(Registered(reference, number))
        elif status == "refused":
            out.answers.append(Refused(reference, row.get("refusal_code") or "refused", row.get("refusal_reason", "")))
        else:
            out.errors.append(f"row {n}: status must be registered or refused")
    return out
