"""The spreadsheets written for an import: the per-row report and the template a village fills in (bytes; pure).

The report has every row of the imported file with its outcome (``status``, the nomination id, or the column and
the reason in Bahasa Indonesia and English), in the input's own format: an XLSX for an XLSX (the faulty cells
highlighted, NIK and phone cells as text so Excel shows all 16 digits), a CSV for a CSV with the input's own
delimiter (a file saved by Excel in an Indonesian locale uses ``;`` and gets ``;`` back). The official fixes the
highlighted cells in the report and imports it as it is: rows imported before are replayed, not created twice.
No cell of a report starts with ``= + - @`` (formula injection): such values are written behind an apostrophe.

The template formats the NIK, phone, desa, RT and RW columns as text, offers drop-down lists (sex, worker
category, the desa of the user's area, the nominator type on the ``pengusul`` sheet) and carries one example row
that the import always skips (``rows.EXAMPLE_NIK``). Used by the portal and by ``payung import-template``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from shared.formats import OCCUPATIONS
from shared.regions import RegionIndex, default_regions
from shared.sheets.read import escape_formula
from shared.sheets.rows import (
    BATCH_FIELDS,
    COLUMNS,
    EXAMPLE_NIK,
    TEXT_COLUMNS,
    ImportResult,
    RowError,
    Sheet,
    is_example,
)

STATUS_IMPORTED = "diimpor"
STATUS_REPLAYED = "sudah diimpor sebelumnya"
STATUS_FAILED = "gagal: perbaiki lalu impor ulang"
STATUS_EXAMPLE = "contoh (tidak diimpor)"
REPORT_HEADER = (*COLUMNS, "status", "id_nominasi", "baris", "kolom", "alasan", "reason")
_BAD_FILL = "FFC7CE"  # Excel's own "bad" cell colours
_BAD_FONT = "9C0006"
_GOOD_FILL = "C6EFCE"
_TEMPLATE_ROWS = 500  # rows formatted and validated below the example


# -------------------------------------------------------------------------------------------------- the report


def report_rows(sheet: Sheet, result: ImportResult, errors: Sequence[RowError]) -> list[tuple[list[str], list[str]]]:
    """Each row of the file as the report shows it, with the columns to highlight (faulty cells)."""
    by_row: dict[int, list[RowError]] = {}
    for err in errors:
        by_row.setdefault(err.row, []).append(err)
    out = []
    for number, row in sheet.rows:
        errs = by_row.get(number, [])
        nomination_id = result.nomination_ids.get(number, "")
        if is_example(row):
            status = STATUS_EXAMPLE
        elif errs:
            status = STATUS_FAILED
        elif nomination_id:
            status = STATUS_REPLAYED if number in result.replayed_rows else STATUS_IMPORTED
        else:
            status = ""
        columns = list(dict.fromkeys(e.column for e in errs))
        values = [
            *(row.get(c, "") for c in COLUMNS),
            status,
            nomination_id,
            str(number),
            "; ".join(columns),
            "; ".join(e.reason_id for e in errs),
            "; ".join(e.reason_en for e in errs),
        ]
        out.append((values, columns))
    return out


def report_bytes(sheet: Sheet, result: ImportResult, errors: Sequence[RowError], kind: str) -> tuple[bytes, int]:
    """The report as an XLSX (``kind`` "xlsx") or a CSV with the input's delimiter, and how many rows failed.

    Every value that Excel would take for a formula (``= + - @``) is written behind an apostrophe
    (``read.escape_formula``); reading the report takes it off again."""
    rows = report_rows(sheet, result, errors)
    failed = sum(1 for values, _ in rows if values[len(COLUMNS)] == STATUS_FAILED)
    if kind == "xlsx":
        # A faulty cell that came from a number cell stays a number in the report: a NIK Excel cut is flagged again
        # on re-import until the official types it anew (the cell is formatted as text, so the typed value stays).
        numbers = [sheet.numeric.get(number, frozenset()) & set(faulty) for (number, _), (_, faulty) in
                   zip(sheet.rows, rows, strict=True)]  # fmt: skip
        return _xlsx_report(rows, numbers), failed
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sheet.delimiter or ",")
    writer.writerow(REPORT_HEADER)
    writer.writerows([escape_formula(v) for v in values] for values, _ in rows)
    return "\ufeff".encode() + out.getvalue().encode(), failed  # BOM: Excel then opens it as UTF-8


def _xlsx_report(rows: list[tuple[list[str], list[str]]], numbers: list[frozenset[str]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    ws = book.active
    assert isinstance(ws, Worksheet)  # a new workbook opens on one empty worksheet
    ws.title = "nominasi"
    ws.append(list(REPORT_HEADER))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    bad_fill, bad_font = PatternFill("solid", fgColor=_BAD_FILL), Font(color=_BAD_FONT)
    good_fill = PatternFill("solid", fgColor=_GOOD_FILL)
    index = {name: i + 1 for i, name in enumerate(REPORT_HEADER)}
    for r, ((values, faulty), keep_number) in enumerate(zip(rows, numbers, strict=True), start=2):
        for c, value in enumerate(values, start=1):
            name = REPORT_HEADER[c - 1]
            number = name in keep_number and value.isdigit()
            cell = ws.cell(row=r, column=c, value=int(value) if number else escape_formula(value))
            cell.data_type = "n" if number else "s"  # a string, never a formula, whatever it starts with
            cell.number_format = "@"  # every cell text: a NIK stays 16 digits, a phone keeps its 0
        for column in faulty:
            if column in index:
                ws.cell(row=r, column=index[column]).fill = bad_fill
                ws.cell(row=r, column=index[column]).font = bad_font
        status = ws.cell(row=r, column=index["status"])
        if faulty or values[len(COLUMNS)] == STATUS_FAILED:
            for name in ("status", "alasan"):
                ws.cell(row=r, column=index[name]).fill = bad_fill
        elif values[len(COLUMNS) + 1]:
            status.fill = good_fill
    ws.freeze_panes = "A2"
    for name, width in (("nik", 20), ("nama_lengkap", 28), ("status", 30), ("id_nominasi", 38), ("alasan", 60)):
        ws.column_dimensions[get_column_letter(index[name])].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ the template


def template_rows() -> list[list[str]]:
    """Header and the example row."""
    return [list(COLUMNS), [example for *_x, example in COLUMNS.values()]]


def area_desa(area: str | None, regions: RegionIndex) -> list[tuple[str, str]]:
    """(code, name) of the desa/kelurahan in ``area`` (a regency, kecamatan or desa code), all when ``None``."""
    desa = sorted((r.code, r.name) for r in regions.by_level("desa_kelurahan"))
    if area is None:
        return desa
    if regions.get(area) is None:
        raise ValueError(f"{area!r} is not a code of region list {regions.version}")
    return [(code, name) for code, name in desa if code == area or code.startswith(area + ".")]


def template_files(area: str | None = None, regions: RegionIndex | None = None) -> dict[str, bytes]:
    """``nominasi-template.csv`` and ``.xlsx`` by name; the XLSX lists the desa of ``area`` (all of the region
    list); ValueError for an unknown area."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation
    from openpyxl.worksheet.worksheet import Worksheet

    desa = area_desa(area, regions or default_regions())
    text = io.StringIO()
    csv.writer(text).writerows(template_rows())
    book = Workbook()
    ws = book.active
    assert isinstance(ws, Worksheet)  # a new workbook opens on one empty worksheet
    ws.title = "nominasi"
    header, example = template_rows()
    ws.append(header)
    ws.append(example)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for cell in ws[2]:
        cell.font = Font(italic=True, color="808080")
    ws["A2"].comment = Comment(f"Baris contoh (NIK {EXAMPLE_NIK}): tidak pernah diimpor. Isi data mulai baris 3.", "")
    letter = {name: get_column_letter(i + 1) for i, name in enumerate(header)}
    last = 2 + _TEMPLATE_ROWS
    for name in TEXT_COLUMNS:  # typed values keep leading zeros, dots and all 16 digits
        for (cell,) in ws[f"{letter[name]}2:{letter[name]}{last}"]:
            cell.number_format = "@"
    lists = book.create_sheet("daftar")
    lists.append(["pekerjaan", "kode_desa", "jenis_pengusul"])
    labels = list(OCCUPATIONS.values())
    for i in range(max(len(labels), len(desa), 3)):
        lists.append(
            [
                labels[i] if i < len(labels) else None,
                f"{desa[i][0]} {desa[i][1]}" if i < len(desa) else None,
                ("rt", "desa", "disnaker")[i] if i < 3 else None,
            ]
        )
    lists.sheet_state = "hidden"
    validations = [
        (_list_validation(DataValidation, '"L,P"', "Isi L atau P"), "jenis_kelamin"),
        (_list_validation(DataValidation, f"daftar!$A$2:$A${len(labels) + 1}", "Pilih kategori"), "pekerjaan"),
        (_list_validation(DataValidation, f"daftar!$B$2:$B${max(len(desa), 1) + 1}", "Pilih desa"), "kode_desa"),
    ]
    for validation, name in validations:
        ws.add_data_validation(validation)
        validation.add(f"{letter[name]}3:{letter[name]}{last}")
    _batch_sheet(book, DataValidation, len(desa))
    _help_sheet(book)
    out = io.BytesIO()
    book.save(out)
    return {"nominasi-template.csv": text.getvalue().encode(), "nominasi-template.xlsx": out.getvalue()}


def _list_validation(kind: Any, formula: str, prompt: str) -> Any:
    return kind(type="list", formula1=formula, allow_blank=True, showDropDown=False, promptTitle=prompt)


def _batch_sheet(book: Any, kind: Any, desa_count: int) -> None:
    """Who nominates and the supporting letter, once for the whole file (the command-line options override)."""
    ws = book.create_sheet("pengusul")
    ws.append(["kunci", "isi", "keterangan"])
    for key, (description, option) in BATCH_FIELDS.items():
        ws.append([key, "", f"{description} (atau opsi {option})"])
    for (cell,) in ws["B2:B8"]:
        cell.number_format = "@"
    nominator_type = _list_validation(kind, "daftar!$C$2:$C$4", "rt, desa atau disnaker")
    ws.add_data_validation(nominator_type)
    nominator_type.add("B2")
    region = _list_validation(kind, f"daftar!$B$2:$B${max(desa_count, 1) + 1}", "Pilih desa")
    region.showErrorMessage = False  # Disnaker writes its regency code, not in the desa list
    ws.add_data_validation(region)
    region.add("B4")
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 24, 30


def _help_sheet(book: Any) -> None:
    ws = book.create_sheet("petunjuk")
    ws.append(["kolom", "wajib", "keterangan", "description"])
    for name, (required, text_id, text_en, _example) in COLUMNS.items():
        ws.append([name, "ya" if required else "tidak", text_id, text_en])
    ws.append([])
    ws.append(["Baris 2 adalah contoh dan tidak diimpor. Kolom nik dan no_hp berformat Teks: jangan diubah."])
    ws.append([])
    ws.append(["pekerjaan (kode)", "", "nama", ""])
    for code, label in OCCUPATIONS.items():
        ws.append([code, "", label, ""])
