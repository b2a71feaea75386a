"""Reading a village's spreadsheet (CSV or XLSX) from its bytes into a ``rows.Sheet``; pure, no I/O.

Hostile files: the kind is decided by content (``kind_of``: the zip magic for XLSX, UTF-8 text for CSV), an XLSX's
declared uncompressed size is bounded before openpyxl opens it (a zip bomb is refused, not inflated), reading stops
past ``max_rows`` data rows, and every failure is a ``SheetRefused`` with a reason that never repeats the content.
Headers are case-insensitive with inner whitespace collapsed into ``_``; a value the reports wrote behind an
apostrophe (``escape_formula``) is read back without it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime
from typing import Any

from shared.sheets.rows import BATCH_FIELDS, Sheet


class SheetRefused(ValueError):
    """A file that is not a spreadsheet we read: ``code`` and a reason in Bahasa Indonesia (never its content)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


ZIP_MAGIC = b"PK\x03\x04"
# An XLSX of a few thousand rows inflates to a few MiB; more than this is refused before openpyxl opens it.
MAX_INFLATED_BYTES = 64 * 1024 * 1024


def kind_of(content: bytes) -> str:
    """``"xlsx"`` (zip magic) or ``"csv"`` (UTF-8 text without NUL), by content only; else SheetRefused."""
    if content.startswith(ZIP_MAGIC):
        return "xlsx"
    if not content.strip():
        raise SheetRefused("SHEET_EMPTY", "Berkas kosong")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SheetRefused("SHEET_TYPE", "Berkas bukan XLSX atau CSV (UTF-8)") from None
    if "\x00" in text:
        raise SheetRefused("SHEET_TYPE", "Berkas bukan XLSX atau CSV (UTF-8)")
    return "csv"


def read_sheet(content: bytes, kind: str, max_rows: int | None = None) -> Sheet:
    """The file's data rows (the header is row 1), which cells were numbers, and its delimiter (CSV).

    ``kind`` is ``"xlsx"`` or ``"csv"``; more than ``max_rows`` non-empty data rows: SheetRefused."""
    if kind == "xlsx":
        return _read_xlsx(content, max_rows)
    if kind != "csv":
        raise ValueError(f"unknown sheet kind {kind!r}")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SheetRefused("SHEET_TYPE", "CSV harus berformat UTF-8") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Excel in Indonesian locale writes ";"
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:
        for i, row in enumerate(reader, start=2):
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                rows.append((i, {_header(k): _unescape((v or "").strip()) for k, v in row.items() if k is not None}))
                _count(len(rows), max_rows)
    except csv.Error:
        raise SheetRefused("SHEET_TYPE", "CSV tidak dapat dibaca") from None
    return Sheet(rows, {}, delimiter)


def _count(rows: int, max_rows: int | None) -> None:
    if max_rows is not None and rows > max_rows:
        raise SheetRefused(
            "TOO_MANY_ROWS", f"Berkas berisi lebih dari {max_rows} baris data: bagi menjadi beberapa berkas"
        )


def check_zip(content: bytes) -> None:
    """A readable zip whose members inflate to at most MAX_INFLATED_BYTES (declared sizes; openpyxl reads through
    zipfile, which stops at the declared size), else SheetRefused."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise SheetRefused("SHEET_TYPE", "Berkas XLSX rusak atau bukan XLSX") from None
    if inflated > MAX_INFLATED_BYTES:
        raise SheetRefused("SHEET_TOO_LARGE", "Isi berkas XLSX terlalu besar")


def _read_xlsx(content: bytes, max_rows: int | None) -> Sheet:
    from openpyxl import load_workbook

    check_zip(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML errors) for a broken file
        raise SheetRefused("SHEET_TYPE", "Berkas XLSX rusak atau bukan XLSX") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [_header(str(h or "")) for h in next(rows, ())]
        out, numeric = [], {}
        for i, values in enumerate(rows, start=2):
            pairs = [(h, v) for h, v in zip(header, values, strict=False) if h]
            cells = {h: _cell_text(v) for h, v in pairs}
            if any(cells.values()):
                out.append((i, cells))
                _count(len(out), max_rows)
                numbers = frozenset(h for h, v in pairs if isinstance(v, int | float) and not isinstance(v, bool))
                if numbers:
                    numeric[i] = numbers
        return Sheet(out, numeric)
    except SheetRefused:
        raise
    except Exception:
        raise SheetRefused("SHEET_TYPE", "Berkas XLSX rusak atau bukan XLSX") from None
    finally:
        book.close()


# A cell starting with one of these is a formula to Excel (and to LibreOffice, Google Sheets): the reports write
# such a value behind an apostrophe (OWASP "CSV injection"), and reading takes the apostrophe off again, so a
# report imported as it is gives back the original value (a phone "+62...", a street "-").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def _unescape(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def _header(name: str) -> str:
    """``Nama  Lengkap``, `` NAMA LENGKAP``, ``nama\nlengkap`` -> ``nama_lengkap``: inner whitespace collapsed."""
    return "_".join(name.split()).lower()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a NIK or phone typed as a number
    return _unescape(str(value).strip())


def read_batch(content: bytes) -> dict[str, str]:
    """The ``pengusul`` sheet of an XLSX made from the template: {key: value} of the filled fields."""
    from openpyxl import load_workbook

    check_zip(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:
        raise SheetRefused("SHEET_TYPE", "Berkas XLSX rusak atau bukan XLSX") from None
    try:
        if "pengusul" not in book.sheetnames:
            return {}
        out = {}
        for key, value, *_rest in book["pengusul"].iter_rows(min_row=2, max_row=40, values_only=True):
            if key in BATCH_FIELDS and value not in (None, ""):
                out[str(key)] = _cell_text(value)
        return out
    finally:
        book.close()
