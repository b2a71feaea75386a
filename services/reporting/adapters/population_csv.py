"""The eligible population per desa from a CSV file (``desa_code,eligible_population``): working-age residents.

An operator's file, still read as hostile input: at most ``MAX_BYTES`` and ``MAX_ROWS``, a header naming both
columns, dotted desa codes (``64.08.01.2001``), whole numbers 0..10,000,000, each desa once. Problems are reported
by line and column with the rule broken, never with the value read.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

MAX_BYTES = 5_000_000
MAX_ROWS = 100_000
MAX_POPULATION = 10_000_000
DESA_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")
COLUMNS = ("desa_code", "eligible_population")


class PopulationFileError(ValueError):
    """The file as a whole, or some of its lines, break the rules (``problems``: line, column, rule)."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def parse(text: str) -> list[tuple[str, int]]:
    """``(desa_code, eligible_population)`` rows, or ``PopulationFileError`` naming every faulty line."""
    if len(text.encode()) > MAX_BYTES:
        raise PopulationFileError([(0, "file", f"larger than {MAX_BYTES} bytes")])
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    if not set(COLUMNS) <= set(header):
        raise PopulationFileError([(1, "header", f"must name the columns {', '.join(COLUMNS)}")])
    reader.fieldnames = header
    rows: list[tuple[str, int]] = []
    problems: list[tuple[int, str, str]] = []
    seen: set[str] = set()
    for line, record in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            raise PopulationFileError([(line, "file", f"more than {MAX_ROWS} rows")])
        code = (record.get("desa_code") or "").strip()
        raw = (record.get("eligible_population") or "").strip()
        if not DESA_CODE.match(code):
            problems.append((line, "desa_code", "not a dotted desa code (NN.NN.NN.NNNN)"))
            continue
        if code in seen:
            problems.append((line, "desa_code", "a desa listed twice"))
            continue
        if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_POPULATION:
            problems.append((line, "eligible_population", f"not a whole number 0..{MAX_POPULATION}"))
            continue
        seen.add(code)
        rows.append((code, int(raw)))
    if problems:
        raise PopulationFileError(problems)
    return rows


def read(path: Path) -> list[tuple[str, int]]:
    if path.stat().st_size > MAX_BYTES:
        raise PopulationFileError([(0, "file", f"larger than {MAX_BYTES} bytes")])
    try:
        return parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise PopulationFileError([(0, "file", "not UTF-8 text")]) from exc


def write(path: Path, rows: list[tuple[str, int]]) -> None:
    """The same format (the demo writes one from its synthetic registry)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(rows)
