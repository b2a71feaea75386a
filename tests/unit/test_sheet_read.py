"""The nomination service's sheet logic on hostile bytes: kind by content, zip bombs, row limit, formula escaping."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from shared.sheets import files as sheet_files
from shared.sheets import read as sheet_read
from shared.sheets import rows as sheets

HEADER = list(sheets.COLUMNS)
GOOD = ["6408014501900001", "Siti Aminah", "1990-01-05", "P", "081234567890", "64.08.01.2001", "3", "1", "", "nelayan"]


def xlsx(*rows: list[object]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_kind_is_decided_by_content() -> None:
    assert sheet_read.kind_of(xlsx(HEADER, GOOD)) == "xlsx"
    assert sheet_read.kind_of(",".join(HEADER).encode()) == "csv"
    for hostile in (b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xd8\xff\xe0garbage", b"a\x00b", b"   "):
        with pytest.raises(sheet_read.SheetRefused):
            sheet_read.kind_of(hostile)


def test_a_broken_zip_and_a_zip_bomb_are_refused_without_inflating() -> None:
    with pytest.raises(sheet_read.SheetRefused) as broken:
        sheet_read.read_sheet(b"PK\x03\x04 not really a zip", "xlsx")
    assert broken.value.code == "SHEET_TYPE"
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (sheet_read.MAX_INFLATED_BYTES + 1))
    assert len(bomb.getvalue()) < 200_000
    with pytest.raises(sheet_read.SheetRefused) as refused:
        sheet_read.read_sheet(bomb.getvalue(), "xlsx")
    assert refused.value.code == "SHEET_TOO_LARGE"


def test_more_rows_than_allowed_are_refused() -> None:
    content = xlsx(HEADER, GOOD, GOOD, GOOD)
    assert len(sheet_read.read_sheet(content, "xlsx", max_rows=3).rows) == 3
    with pytest.raises(sheet_read.SheetRefused) as refused:
        sheet_read.read_sheet(content, "xlsx", max_rows=2)
    assert refused.value.code == "TOO_MANY_ROWS"
    text = ("\n".join([",".join(HEADER), *[",".join(GOOD)] * 3]) + "\n").encode()
    with pytest.raises(sheet_read.SheetRefused):
        sheet_read.read_sheet(text, "csv", max_rows=2)


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_no_report_cell_starts_a_formula_and_the_report_reads_back_unchanged(kind: str) -> None:
    hostile = ['=HYPERLINK("http://x","klik")', "+62 812", "-", "@SUM(A1)"]
    row = [*GOOD[:8], hostile[0], GOOD[9]]
    other = [*GOOD[:1], hostile[3], *GOOD[2:4], hostile[1], *GOOD[5:8], hostile[2], GOOD[9]]
    # as a CSV gives them (an XLSX made by a program would hold the first as a formula, read as its value)
    sheet = sheets.Sheet(
        [(2, dict(zip(HEADER, row, strict=True))), (3, dict(zip(HEADER, other, strict=True)))], {}, ";"
    )
    errors = [sheets.RowError(3, "nama_lengkap", "=1+1", "-bad")]
    report, failed = sheet_files.report_bytes(sheet, sheets.ImportResult(), errors, kind)
    assert failed == 1
    if kind == "xlsx":
        book = load_workbook(io.BytesIO(report))
        cells = [c for row in book.active.iter_rows() for c in row]
        assert all(c.data_type != "f" for c in cells)
        values = [str(c.value) for c in cells if c.value is not None]
    else:
        values = [v for line in report.decode("utf-8-sig").splitlines() for v in line.split(";")]
    assert values and not [v for v in values if v.startswith(("=", "+", "-", "@"))]
    again = sheet_read.read_sheet(report, kind)
    assert [r["alamat"] for _, r in again.rows] == [hostile[0], hostile[2]]  # the apostrophe is taken off
    assert again.rows[1][1]["nama_lengkap"] == hostile[3] and again.rows[1][1]["no_hp"] == hostile[1]


def test_an_empty_nominator_region_is_each_rows_desa() -> None:
    batch = sheets.Batch({"type": "desa", "name": "Kepala Desa", "region_code": ""}, None)
    request, errors = sheets.to_request(2, dict(zip(HEADER, GOOD, strict=True)), batch)
    assert errors == [] and request is not None and request["nominator"]["region_code"] == "64.08.01.2001"
