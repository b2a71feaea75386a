"""Spreadsheets as villages make them (issue 16), with real XLSX files built by openpyxl: the XLSX report with its
highlighted cells and nomination ids, the template's text formats, drop-down lists and example row, NIKs Excel cut
to 15 digits, impossible dates, headers with odd spacing, an out-of-area row that does not stop the import."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook, load_workbook

from deploy.ops import import_sheets, importer
from shared.sheets import files as sheet_files
from shared.sheets import rows as sheets

BATCH = sheets.Batch(
    {"type": "desa", "name": "Kepala Desa", "region_code": "64.08.01.2001"},
    {"number": "470/12/2026", "date": "2026-02-01", "issuer": "Kepala Desa"},
)
HEADER = list(sheets.COLUMNS)
GOOD = ["6408014501900001", "Siti Aminah", "1990-01-05", "P", "081234567890", "64.08.01.2001", "3", "1", "", "nelayan"]


def xlsx(path: Path, header: list[str], *rows: list[Any]) -> Path:
    book = Workbook()
    book.active.append(header)
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def test_a_nik_from_a_number_cell_ending_in_0_is_flagged_as_cut_by_excel(tmp_path: Path) -> None:
    # Excel keeps 15 significant digits: 6408014501900013 typed into a number cell becomes 6408014501900010
    path = xlsx(tmp_path / "desa.xlsx", HEADER, [6408014501900010, *GOOD[1:]], [6408014501900013, *GOOD[1:]])
    sheet = importer.read_sheet(path)
    (n1, row1), (n2, row2) = sheet.rows
    assert row1["nik"] == "6408014501900010" and "nik" in sheet.numeric[n1]
    request, errors = sheets.to_request(n1, row1, BATCH, sheet.numeric[n1])
    assert request is None and errors[0].column == "nik"
    assert errors[0].reason_id.startswith(
        "NIK kemungkinan terpotong oleh Excel"
    )  # before: passed, then REGISTRY_NOT_FOUND
    request, errors = sheets.to_request(n2, row2, BATCH, sheet.numeric[n2])
    assert errors == [] and request is not None  # a number cell that was not cut (not ending in 0) is kept


def test_the_same_nik_from_a_text_cell_is_not_flagged(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "desa.xlsx", HEADER, ["6408014501900010", *GOOD[1:]])
    sheet = importer.read_sheet(path)
    number, row = sheet.rows[0]
    assert "nik" not in sheet.numeric.get(number, frozenset())
    assert sheets.to_request(number, row, BATCH, sheet.numeric.get(number, frozenset()))[1] == []


def test_headers_are_matched_after_collapsing_inner_whitespace(tmp_path: Path) -> None:
    header = [" NIK ", "Nama  Lengkap", "Tanggal\nLahir", "jenis kelamin", "No  HP", *HEADER[5:]]
    path = xlsx(tmp_path / "desa.xlsx", header, GOOD)
    ((_, row),) = importer.read_rows(path)
    assert set(row) == set(HEADER)  # before: "nama__lengkap" and "tanggal\nlahir" were not the columns
    assert sheets.to_request(2, row, BATCH)[1] == []


def test_an_xlsx_date_cell_and_an_excel_serial_number_are_dates(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "desa.xlsx", HEADER, [GOOD[0], GOOD[1], datetime(1990, 1, 5), *GOOD[3:]],
                [GOOD[0], GOOD[1], 32878, *GOOD[3:]])  # fmt: skip
    sheet = importer.read_sheet(path)
    for number, row in sheet.rows:
        request, errors = sheets.to_request(number, row, BATCH, sheet.numeric.get(number, frozenset()))
        assert errors == [] and request is not None and request["birth_date"] == "1990-01-05"


def test_the_xlsx_report_highlights_faulty_cells_and_writes_ids_back(tmp_path: Path) -> None:
    source = xlsx(tmp_path / "desa.xlsx", HEADER, GOOD, ["12345", *GOOD[1:5], "64.08.01.9999", *GOOD[6:]],
                  [sheet_files.template_rows()[1][0], *GOOD[1:]])  # fmt: skip
    sheet = importer.read_sheet(source)
    errors = [e for number, row in sheet.rows[1:2] for e in sheets.to_request(number, row, BATCH)[1]]
    result = sheets.ImportResult(created=1, nomination_ids={2: "7f1c-id"})
    path = import_sheets.report_path(source)
    assert path.name == "desa-laporan.xlsx"
    assert import_sheets.write_report(path, sheet, result, errors) == 1
    ws = load_workbook(path).active
    header = [c.value for c in ws[1]]
    column = {name: i for i, name in enumerate(header)}
    imported, failed, example = (list(r) for r in ws.iter_rows(min_row=2))
    assert imported[column["status"]].value == "diimpor" and imported[column["id_nominasi"]].value == "7f1c-id"
    assert failed[column["status"]].value.startswith("gagal")
    assert failed[column["kolom"]].value == "nik; kode_desa"
    assert "NIK harus 16 angka" in failed[column["alasan"]].value
    assert failed[column["nik"]].fill.fgColor.rgb.endswith("FFC7CE")  # the faulty cells are highlighted
    assert failed[column["kode_desa"]].fill.fgColor.rgb.endswith("FFC7CE")
    assert failed[column["nama_lengkap"]].fill.fgColor.rgb in (None, "00000000")
    assert imported[column["nik"]].number_format == "@" and imported[column["nik"]].data_type == "s"
    assert example[column["status"]].value == "contoh (tidak diimpor)"
    # ready to fix and import again: the report reads back as the same rows
    again = importer.read_sheet(path)
    assert [row["nik"] for _, row in again.rows] == [row["nik"] for _, row in sheet.rows]
    assert again.numeric == {}  # all text: no NIK can be cut


def test_the_template_formats_text_offers_lists_and_marks_its_example(tmp_path: Path) -> None:
    _, path = import_sheets.write_template(tmp_path, area="64.08.01")
    book = load_workbook(path)
    ws = book["nominasi"]
    header = [c.value for c in ws[1]]
    for name in ("nik", "no_hp"):
        letter = ws.cell(row=1, column=header.index(name) + 1).column_letter
        assert ws[f"{letter}2"].number_format == ws[f"{letter}300"].number_format == "@"
    validations = ws.data_validations.dataValidation
    lists = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1 for dv in validations}
    letter = {name: ws.cell(row=1, column=header.index(name) + 1).column_letter for name in header}
    assert lists[letter["jenis_kelamin"]] == '"L,P"'
    assert lists[letter["pekerjaan"]].startswith("daftar!$A$2")
    assert lists[letter["kode_desa"]].startswith("daftar!$B$2")
    desa = [c.value for (c,) in book["daftar"]["B2:B400"] if c.value]
    assert desa and all(d.startswith("64.08.01.") for d in desa)  # the desa of the area only
    assert sheets._desa_code(desa[0]) == desa[0].split()[0]  # a list entry "64.08.01.2001 Senyiur" is its code
    pengusul = book["pengusul"]
    assert "daftar!$C$2:$C$4" in [dv.formula1 for dv in pengusul.data_validations.dataValidation]
    assert sheets.is_example(dict(zip(header, [c.value for c in ws[2]], strict=True)))


def test_the_pengusul_sheet_gives_the_nominator_and_the_letter(tmp_path: Path) -> None:
    _, path = import_sheets.write_template(tmp_path, area="64.08.01.2001")
    book = load_workbook(path)
    sheet = book["pengusul"]
    values = {"jenis_pengusul": "desa", "nama_pengusul": "Kepala Desa", "tanggal_surat": datetime(2026, 2, 1)}
    for row in sheet.iter_rows(min_row=2):
        if row[0].value in values:
            row[1].value = values[row[0].value]
    book.save(path)
    assert import_sheets.read_batch(path) == {
        "jenis_pengusul": "desa",
        "nama_pengusul": "Kepala Desa",
        "tanggal_surat": "2026-02-01",
    }


def test_an_out_of_area_row_does_not_stop_the_import() -> None:
    # before: the 403 raised PermissionError, aborting the rows after it and writing no report
    def answer(request: httpx.Request) -> httpx.Response:
        body = request.read().decode()
        if "64.08.02" in body:
            return httpx.Response(403, json={"code": "OUT_OF_AREA", "message": "outside"})
        return httpx.Response(202, json={"nomination_id": f"id-{len(body)}"})

    def row(desa: str) -> dict[str, Any]:
        request, _ = sheets.to_request(2, dict(zip(HEADER, [*GOOD[:5], desa, *GOOD[6:]], strict=True)), BATCH)
        assert request is not None
        return request

    requests = [(2, row("64.08.01.2001")), (3, row("64.08.02.2001")), (4, row("64.08.01.2002"))]

    async def run() -> sheets.ImportResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://n") as client:
            return await importer.submit_all(client, requests, concurrency=1)

    result = asyncio.run(run())
    assert result.created == 2 and set(result.nomination_ids) == {2, 4} and result.refused is None
    assert [(e.row, e.column) for e in result.errors] == [(3, "kode_desa")]
    assert result.errors[0].reason_id.startswith("Desa ini di luar wilayah akun Anda")


def test_a_refused_account_stops_sending_but_keeps_every_row_in_the_report() -> None:
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"code": "UNAUTHENTICATED", "message": "no key"})

    request, _ = sheets.to_request(2, dict(zip(HEADER, GOOD, strict=True)), BATCH)
    assert request is not None

    async def run() -> sheets.ImportResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://n") as client:
            return await importer.submit_all(client, [(n, request) for n in range(2, 6)], concurrency=1)

    result = asyncio.run(run())
    assert len(calls) == 1 and result.refused is not None and "401" in result.refused
    assert [e.row for e in result.errors] == [2, 3, 4, 5]


def test_a_cut_nik_stays_flagged_when_the_report_is_imported_unchanged(tmp_path: Path) -> None:
    source = xlsx(tmp_path / "desa.xlsx", HEADER, [6408014501900010, *GOOD[1:]])
    sheet = importer.read_sheet(source)
    ((number, row),) = sheet.rows
    _, errors = sheets.to_request(number, row, BATCH, sheet.numeric[number])
    path = import_sheets.report_path(source)
    import_sheets.write_report(path, sheet, sheets.ImportResult(), errors)
    again = importer.read_sheet(path)
    ((number, row),) = again.rows
    _, errors = sheets.to_request(number, row, BATCH, again.numeric.get(number, frozenset()))
    assert [e.column for e in errors] == ["nik"] and errors[0].reason_id.startswith("NIK kemungkinan terpotong")


def test_the_command_takes_the_nominator_from_the_pengusul_sheet(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from deploy.cli import app

    _, path = import_sheets.write_template(tmp_path, area="64.08.01.2001")
    monkeypatch.setenv("PAYUNG_NOMINATION_URL", "http://127.0.0.1:9")  # nothing listens: the command stops there
    runner = CliRunner()
    missing = runner.invoke(app, ["import", str(path)])
    assert missing.exit_code == 2 and "pengusul" in missing.output  # nothing to say who nominates
    book = load_workbook(path)
    fields = {
        "jenis_pengusul": "desa",
        "nama_pengusul": "Kepala Desa",
        "kode_wilayah_pengusul": "64.08.01.2001",
        "nomor_surat": "470/12/2026",
        "tanggal_surat": "2026-02-01",
        "penandatangan_surat": "Kepala Desa",
    }
    for row in book["pengusul"].iter_rows(min_row=2):
        if row[0].value in fields:
            row[1].value = fields[row[0].value]
    book.save(path)
    filled = runner.invoke(app, ["import", str(path)])
    assert filled.exit_code == 1 and "not reachable" in filled.output  # past the options: at the service check
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    assert runner.invoke(app, ["import", str(broken)]).exit_code == 2
