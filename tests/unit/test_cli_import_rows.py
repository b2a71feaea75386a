"""Spreadsheet import: reading CSV/XLSX, row validation and mapping, idempotency keys, the error report, reports."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from deploy.ops import import_sheets, importer, operator
from shared.sheets import files as sheet_files
from shared.sheets import rows as sheets

BATCH = sheets.Batch(
    {"type": "desa", "name": "Kepala Desa", "region_code": "64.08.01.2001"},
    {"number": "470/12/2026", "date": "2026-02-01", "issuer": "Kepala Desa"},
)
ROW = {
    "nik": "6408014501900001",
    "nama_lengkap": "  Siti   Aminah ",
    "tanggal_lahir": "05-01-1990",
    "jenis_kelamin": "p",
    "no_hp": "81234567890",
    "kode_desa": "6408012001",
    "rt": "3",
    "rw": "1",
    "alamat": "",
    "pekerjaan": "Nelayan",
}


def test_a_row_becomes_the_nomination_request() -> None:
    request, errors = sheets.to_request(2, ROW, BATCH)
    assert errors == []
    assert request == {
        "nik": "6408014501900001",
        "full_name": "Siti Aminah",
        "birth_date": "1990-01-05",
        "sex": "F",
        "phone": "081234567890",  # the leading 0 a spreadsheet dropped is back
        "address": {"kecamatan_code": "64.08.01", "desa_code": "64.08.01.2001", "rt": "3", "rw": "1", "street": ""},
        "occupation": "nelayan",  # the label maps to the code
        "nominator": BATCH.nominator,
        "supporting_letter": BATCH.supporting_letter,
    }


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("nik", "12345", "NIK harus 16 angka"),
        ("tanggal_lahir", "5 Jan 1990", "Format tanggal tidak dikenal"),
        ("tanggal_lahir", "31/02/1960", "Tanggal tidak ada"),  # was "unknown date format" (issue 16)
        ("tanggal_lahir", "1960-13-01", "Tanggal tidak ada"),
        ("nik", "6.40801E+15", "NIK kemungkinan terpotong oleh Excel"),  # a CSV of Excel's scientific notation
        ("jenis_kelamin", "X", "Isi L atau P"),
        ("pekerjaan", "pilot", "Kategori pekerja tidak dikenal"),
        ("kode_desa", "64.08.01.9999", "Kode desa/kelurahan tidak dikenal"),
        ("nama_lengkap", " ", "Kolom wajib diisi"),
    ],
)
def test_bad_values_name_the_column_in_both_languages(column: str, value: str, expected: str) -> None:
    request, errors = sheets.to_request(7, {**ROW, column: value}, BATCH)
    assert request is None
    assert [(e.row, e.column) for e in errors] == [(7, column)]
    assert errors[0].reason_id.startswith(expected) and errors[0].reason_en


def test_the_key_follows_the_content() -> None:
    a, _ = sheets.to_request(2, ROW, BATCH)
    b, _ = sheets.to_request(9, dict(ROW), BATCH)  # the same row elsewhere in the file: the same request
    c, _ = sheets.to_request(2, {**ROW, "rt": "4"}, BATCH)
    assert a is not None and b is not None and c is not None
    assert sheets.idempotency_key(a) == sheets.idempotency_key(b) != sheets.idempotency_key(c)


def test_service_field_errors_map_to_columns() -> None:
    body = {
        "errors": [
            {"field": "phone", "message": "not a valid Indonesian phone number"},
            {"field": "address.rt", "message": "string should match pattern"},
            {"field": "supporting_letter", "message": "date is in the future"},
        ]
    }
    errors = sheets.service_errors(4, body)
    assert [(e.column, e.reason_en) for e in errors] == [
        ("no_hp", "not a valid Indonesian phone number"),
        ("rt", "string should match pattern"),
        ("--letter-*", "date is in the future"),
    ]
    assert errors[0].reason_id.startswith("Nomor HP tidak sah")


def test_template_round_trips_through_csv_and_xlsx(tmp_path: Path) -> None:
    csv_path, xlsx_path = import_sheets.write_template(tmp_path)
    from_csv, from_xlsx = importer.read_rows(csv_path), importer.read_rows(xlsx_path)
    example = dict(zip(sheets.COLUMNS, sheet_files.template_rows()[1], strict=True))
    assert from_csv == from_xlsx == [(2, example)]
    request, errors = sheets.to_request(2, from_csv[0][1], BATCH)
    assert errors == [] and request is not None  # a valid row, to show the form
    assert sheets.is_example(example)  # and never imported (issue 16)
    # the committed templates are what the code writes
    committed = Path(__file__).parents[2] / "docs" / "templates"
    assert importer.read_rows(committed / "nominasi-template.csv") == from_csv
    assert importer.read_rows(committed / "nominasi-template.xlsx") == from_xlsx


def test_semicolon_csv_and_xlsx_numbers(tmp_path: Path) -> None:
    from openpyxl import Workbook

    path = tmp_path / "desa.csv"
    path.write_text("NIK;Nama Lengkap\n6408014501900001;Siti\n;\n", encoding="utf-8-sig")
    assert importer.read_rows(path) == [(2, {"nik": "6408014501900001", "nama_lengkap": "Siti"})]
    book = Workbook()
    book.active.append(["nik", "no_hp"])
    book.active.append([6408014501900001, 81234567890.0])  # typed as numbers
    book.save(tmp_path / "desa.xlsx")
    assert importer.read_rows(tmp_path / "desa.xlsx") == [(2, {"nik": "6408014501900001", "no_hp": "81234567890"})]
    with pytest.raises(ValueError, match=r"only \.csv and \.xlsx"):
        importer.read_rows(tmp_path / "desa.ods")


def test_csv_report_keeps_the_row_to_fix_with_the_input_delimiter(tmp_path: Path) -> None:
    rows = [(2, ROW), (3, {**ROW, "nik": "1"})]
    errors = [
        sheets.RowError(3, "nik", "NIK harus 16 angka", "NIK must be 16 digits"),
        sheets.RowError(3, "no_hp", "Nomor HP tidak sah", "not a phone number"),
    ]
    result = sheets.ImportResult(created=1, nomination_ids={2: "0c9d-id"})
    path = tmp_path / "errors.csv"
    assert import_sheets.write_report(path, sheets.Sheet(rows, {}, ";"), result, errors) == 1
    with path.open(encoding="utf-8-sig") as handle:
        first, second = list(csv.DictReader(handle, delimiter=";"))
    assert (first["baris"], first["status"], first["id_nominasi"]) == ("2", "diimpor", "0c9d-id")  # id written back
    assert (second["baris"], second["nik"], second["kolom"]) == ("3", "1", "nik; no_hp")
    assert second["alasan"] == "NIK harus 16 angka; Nomor HP tidak sah"
    assert second["reason"] == "NIK must be 16 digits; not a phone number"
    # the report is itself importable: the extra columns are ignored
    assert importer.read_rows(path)[1][1]["nik"] == "1"


def test_report_tables_and_auth_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    report = {"reasons": [{"code": "DECEASED", "label": "Meninggal", "count": 1200}]}
    table = operator.rejections_table(report)
    assert operator.to_csv(table) == "kode,alasan,jumlah\nDECEASED,Meninggal,1200\n"
    assert operator.to_text(table).splitlines()[1].endswith("1.200")
    monkeypatch.delenv("PAYUNG_API_KEY", raising=False)
    assert operator.auth_headers() == {}
    monkeypatch.setenv("PAYUNG_API_KEY", "pyg_abc")
    assert operator.auth_headers() == {"Authorization": "Bearer pyg_abc", "X-API-Key": "pyg_abc"}
    monkeypatch.setenv("PAYUNG_API_KEY", "eyJ.jwt.token")
    assert operator.auth_headers() == {"Authorization": "Bearer eyJ.jwt.token"}
