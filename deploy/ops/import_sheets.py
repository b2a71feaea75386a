"""The spreadsheets of an import as files: the report written after it and the template a village fills in.

What they contain is the nomination service's (services/nomination/sheet_files.py, which the portal uses too);
this module names and writes the files for ``payung import`` and ``payung import-template``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shared.regions import RegionIndex
from shared.sheets import files as sheet_files
from shared.sheets import read as sheet_read
from shared.sheets.rows import ImportResult, RowError, Sheet


def report_path(source: Path) -> Path:
    """``senyiur.xlsx`` -> ``senyiur-laporan.xlsx`` (the same format as the input)."""
    return source.with_name(f"{source.stem}-laporan{source.suffix.lower()}")


def write_report(path: Path, sheet: Sheet, result: ImportResult, errors: Sequence[RowError]) -> int:
    """Write the report (XLSX or CSV by ``path``'s suffix); returns how many rows failed."""
    kind = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
    content, failed = sheet_files.report_bytes(sheet, result, errors, kind)
    path.write_bytes(content)
    return failed


def write_template(directory: Path, area: str | None = None, regions: RegionIndex | None = None) -> list[Path]:
    """``nominasi-template.csv`` and ``.xlsx`` in ``directory``; the XLSX lists the desa of ``area``."""
    files = sheet_files.template_files(area, regions)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in files.items():
        (directory / name).write_bytes(content)
        paths.append(directory / name)
    return paths


def read_batch(path: Path) -> dict[str, str]:
    """The ``pengusul`` sheet of an XLSX made from the template: {key: value} of the filled fields."""
    if path.suffix.lower() != ".xlsx":
        return {}
    try:
        return sheet_read.read_batch(path.read_bytes())
    except sheet_read.SheetRefused as exc:
        raise ValueError(exc.message) from None
