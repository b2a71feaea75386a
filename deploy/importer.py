"""Importing a village's spreadsheet (CSV or XLSX) of nominations through the nomination service's HTTP API.

The columns are documented by the template (``payung import-template``, docs/templates/). Every row is checked
here first (required values, dates, codes), then sent as ``POST /v1/nominations`` with an ``Idempotency-Key``
derived from the request the row makes: importing the same file again replays the earlier answers and creates
nothing twice; a corrected row is a new request. Rows that fail (here or at the service) go to an error report:
the failed rows with their original values plus the row number, the column and the reason in Bahasa Indonesia and
English, so the official can fix them in that file and import it again (the extra columns are ignored).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from services.nomination.domain import OCCUPATIONS
from shared.regions import default_regions

# column -> (required, description in Bahasa Indonesia, description in English, example)
COLUMNS: dict[str, tuple[bool, str, str, str]] = {
    "nik": (True, "NIK 16 angka sesuai KTP/KK", "16-digit NIK as on the ID card", "6408014501900001"),
    "nama_lengkap": (True, "Nama lengkap sesuai KTP", "Full name as on the ID card", "Siti Aminah"),
    "tanggal_lahir": (True, "Tanggal lahir (TTTT-BB-HH atau HH-BB-TTTT)", "Birth date", "1990-01-05"),
    "jenis_kelamin": (True, "L (laki-laki) atau P (perempuan)", "Sex: L (male) or P (female)", "P"),
    "no_hp": (True, "Nomor HP aktif (08xx)", "Mobile phone number", "081234567890"),
    "kode_desa": (True, "Kode desa/kelurahan Kemendagri", "Official desa/kelurahan code", "64.08.01.2001"),
    "rt": (True, "Nomor RT", "RT (neighbourhood) number", "003"),
    "rw": (True, "Nomor RW", "RW number", "001"),
    "alamat": (False, "Jalan / dusun (boleh kosong)", "Street / hamlet (optional)", "Jl. Poros Sangatta"),
    "pekerjaan": (True, "Kategori pekerja (kode atau nama)", "Worker category (code or label)", "nelayan"),
}
REPORT_COLUMNS = ("baris", "kolom", "alasan", "reason")
_SEX = {"l": "M", "laki-laki": "M", "lk": "M", "m": "M", "p": "F", "perempuan": "F", "pr": "F", "f": "F", "w": "F"}
_OCCUPATION_BY_NAME = {label.lower(): code for code, label in OCCUPATIONS.items()} | {c: c for c in OCCUPATIONS}
# The service's field -> the spreadsheet column (or the command-line option) to correct.
_FIELD_COLUMN = {
    "nik": "nik",
    "full_name": "nama_lengkap",
    "birth_date": "tanggal_lahir",
    "sex": "jenis_kelamin",
    "phone": "no_hp",
    "address": "kode_desa",
    "occupation": "pekerjaan",
    "nominator": "--nominator-*",
    "supporting_letter": "--letter-*",
}
_ADDRESS_COLUMN = {"desa_code": "kode_desa", "kecamatan_code": "kode_desa", "rt": "rt", "rw": "rw", "street": "alamat"}
# Bahasa Indonesia advice per column, for reasons the service gives in English.
_ADVICE_ID = {
    "nik": "NIK tidak sah: tulis 16 angka sesuai KTP/KK",
    "nama_lengkap": "Nama tidak sah: hanya huruf, spasi dan tanda . ' - ,",
    "tanggal_lahir": "Tanggal lahir tidak sah",
    "jenis_kelamin": "Jenis kelamin harus L atau P",
    "no_hp": "Nomor HP tidak sah: tulis nomor HP aktif 08xx",
    "kode_desa": "Kode desa/kelurahan tidak dikenal",
    "rt": "Nomor RT harus angka (1 sampai 3 digit)",
    "rw": "Nomor RW harus angka (1 sampai 3 digit)",
    "alamat": "Alamat terlalu panjang",
    "pekerjaan": "Kategori pekerja tidak dikenal",
    "--nominator-*": "Data pengusul (opsi --nominator-*) tidak sah",
    "--letter-*": "Data surat keterangan (opsi --letter-*) tidak sah atau belum diisi",
}


@dataclass(frozen=True)
class RowError:
    row: int  # the spreadsheet's row number (the header is row 1)
    column: str
    reason_id: str
    reason_en: str


@dataclass(frozen=True)
class Batch:
    """Who nominates and under which supporting letter: the same for every row of one village's file."""

    nominator: dict[str, Any]
    supporting_letter: dict[str, Any] | None


@dataclass
class ImportResult:
    created: int = 0
    replayed: int = 0  # imported before: the service answered with the earlier nomination
    errors: list[RowError] = field(default_factory=list)
    nomination_ids: dict[int, str] = field(default_factory=dict)  # row -> nomination id


# ------------------------------------------------------------------------------------------------- reading


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for each non-empty data row of a CSV (``,`` or ``;``) or XLSX file."""
    if path.suffix.lower() == ".xlsx":
        return _read_xlsx(path)
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{path.name}: only .csv and .xlsx files can be imported")
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","  # Excel in Indonesian locale writes ";"
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [
        (i, {_header(k): (v or "").strip() for k, v in row.items() if k is not None})
        for i, row in enumerate(reader, start=2)
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]


def _read_xlsx(path: Path) -> list[tuple[int, dict[str, str]]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [_header(str(h or "")) for h in next(rows, ())]
        out = []
        for i, values in enumerate(rows, start=2):
            cells = {h: _cell_text(v) for h, v in zip(header, values, strict=False) if h}
            if any(cells.values()):
                out.append((i, cells))
        return out
    finally:
        book.close()


def _header(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a NIK or phone typed as a number
    return str(value).strip()


# ------------------------------------------------------------------------------------------------- mapping


def _date(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _desa_code(text: str) -> str:
    digits = text.replace(".", "").strip()
    if len(digits) == 10 and digits.isdigit():
        return f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:]}"
    return text.strip()


def to_request(number: int, row: Mapping[str, str], batch: Batch) -> tuple[dict[str, Any] | None, list[RowError]]:
    """The nomination request a row makes, or the reasons it cannot make one (pure: no I/O)."""
    errors: list[RowError] = []

    def bad(column: str, reason_id: str, reason_en: str) -> None:
        errors.append(RowError(number, column, reason_id, reason_en))

    for column, (required, *_rest) in COLUMNS.items():
        if required and not row.get(column, "").strip():
            bad(column, "Kolom wajib diisi", "required column is empty")
    if errors:
        return None, errors
    nik = row["nik"].replace(" ", "")
    if not (len(nik) == 16 and nik.isdigit()):
        bad("nik", "NIK harus 16 angka", "NIK must be 16 digits")
    birth = _date(row["tanggal_lahir"])
    if birth is None:
        bad("tanggal_lahir", "Format tanggal tidak dikenal (pakai TTTT-BB-HH)", "unknown date format (use YYYY-MM-DD)")
    sex = _SEX.get(row["jenis_kelamin"].strip().lower())
    if sex is None:
        bad("jenis_kelamin", "Isi L atau P", "must be L (male) or P (female)")
    occupation = _OCCUPATION_BY_NAME.get(row["pekerjaan"].strip().lower())
    if occupation is None:
        bad("pekerjaan", "Kategori pekerja tidak dikenal (lihat templat)", "unknown worker category (see the template)")
    desa = _desa_code(row["kode_desa"])
    if not default_regions().is_level(desa, "desa_kelurahan"):
        bad("kode_desa", "Kode desa/kelurahan tidak dikenal", f"{desa!r} is not a desa/kelurahan code")
    phone = row["no_hp"].replace(" ", "").replace("-", "")
    if phone.startswith("8"):
        phone = "0" + phone  # the leading 0 is lost when a spreadsheet stores the number as a number
    if errors:
        return None, errors
    request = {
        "nik": nik,
        "full_name": " ".join(row["nama_lengkap"].split()),
        "birth_date": birth.isoformat() if birth else None,
        "sex": sex,
        "phone": phone,
        "address": {
            "kecamatan_code": desa.rsplit(".", 1)[0],
            "desa_code": desa,
            "rt": row["rt"].strip(),
            "rw": row["rw"].strip(),
            "street": row.get("alamat", "").strip(),
        },
        "occupation": occupation,
        "nominator": batch.nominator,
    }
    if batch.supporting_letter is not None:
        request["supporting_letter"] = batch.supporting_letter
    return request, []


def idempotency_key(request: Mapping[str, Any]) -> str:
    """The same request (same row, same nominator and letter) always gets the same key."""
    return "import-" + hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()[:48]


def service_errors(number: int, body: Any) -> list[RowError]:
    """A 422 answer's field errors as rows of the error report."""
    out = []
    for err in (body or {}).get("errors", []) or [{"field": "", "message": str(body)[:300]}]:
        path = str(err.get("field", "")).split(".")
        column = _FIELD_COLUMN.get(path[0], path[0] or "-")
        if path[0] == "address" and len(path) > 1:
            column = _ADDRESS_COLUMN.get(path[1], "kode_desa")
        message = str(err.get("message", ""))
        out.append(RowError(number, column, _ADVICE_ID.get(column, "Data ditolak layanan nominasi"), message))
    return out


# ---------------------------------------------------------------------------------------------- importing


async def submit_all(
    client: httpx.AsyncClient,
    requests: Sequence[tuple[int, dict[str, Any]]],
    on_done: Callable[[], None] = lambda: None,
    concurrency: int = 8,
    attempts: int = 4,
) -> ImportResult:
    """POST every request (with its key); transport errors and 5xx are retried, the same key makes that safe."""
    result = ImportResult()
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int, request: dict[str, Any]) -> None:
        key = idempotency_key(request)
        response: httpx.Response | None = None
        for attempt in range(attempts):
            try:
                async with gate:
                    response = await client.post("/v1/nominations", json=request, headers={"Idempotency-Key": key})
                if response.status_code < 500:
                    break
            except httpx.TransportError:
                response = None
            await asyncio.sleep(0.5 * 2**attempt)  # back-off between retries of one row
        _record(result, number, response)
        on_done()

    await asyncio.gather(*(one(n, r) for n, r in requests))
    result.errors.sort(key=lambda e: e.row)
    return result


def _record(result: ImportResult, number: int, response: httpx.Response | None) -> None:
    if response is None or response.status_code >= 500:
        status = "no answer" if response is None else f"HTTP {response.status_code}"
        result.errors.append(
            RowError(number, "-", "Layanan nominasi tidak dapat dihubungi; impor ulang nanti", f"service: {status}")
        )
        return
    content_type = response.headers.get("content-type", "")
    # answers are application/json, errors application/problem+json (RFC 9457)
    body = response.json() if content_type.startswith(("application/json", "application/problem+json")) else {}
    if response.status_code == 202:
        result.nomination_ids[number] = body["nomination_id"]
        if response.headers.get("Idempotent-Replayed") == "true":
            result.replayed += 1
        else:
            result.created += 1
    elif response.status_code == 409:
        nid = body.get("nomination_id")
        result.errors.append(
            RowError(
                number,
                "nik",
                f"NIK ini sudah diusulkan dan sedang diproses (nominasi {nid})",
                f"this NIK already has a nomination in progress ({nid})",
            )
        )
    elif response.status_code in (401, 403):
        raise PermissionError(f"the nomination service refused the import: HTTP {response.status_code} {body}")
    else:
        result.errors.extend(service_errors(number, body))


# --------------------------------------------------------------------------------------------- the report


def write_error_report(path: Path, rows: Iterable[tuple[int, Mapping[str, str]]], errors: Sequence[RowError]) -> int:
    """The failed rows, values as given plus row number, columns and reasons; returns how many rows it holds."""
    by_row: dict[int, list[RowError]] = {}
    for err in errors:
        by_row.setdefault(err.row, []).append(err)
    originals = dict(rows)
    with path.open("w", newline="", encoding="utf-8-sig") as handle:  # BOM: Excel then opens it as UTF-8
        writer = csv.writer(handle)
        writer.writerow([*COLUMNS, *REPORT_COLUMNS])
        for number in sorted(by_row):
            row = originals.get(number, {})
            errs = by_row[number]
            writer.writerow(
                [
                    *(row.get(c, "") for c in COLUMNS),
                    number,
                    "; ".join(dict.fromkeys(e.column for e in errs)),
                    "; ".join(e.reason_id for e in errs),
                    "; ".join(e.reason_en for e in errs),
                ]
            )
    return len(by_row)


# ------------------------------------------------------------------------------------------- the template


def template_rows() -> list[list[str]]:
    """Header and one example row."""
    return [list(COLUMNS), [example for *_x, example in COLUMNS.values()]]


def write_template(directory: Path) -> list[Path]:
    """``nominasi-template.csv`` and ``.xlsx`` (with a second sheet explaining columns and categories)."""
    from openpyxl import Workbook

    directory.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = directory / "nominasi-template.csv", directory / "nominasi-template.xlsx"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(template_rows())
    book = Workbook()
    sheet = book.active
    sheet.title = "nominasi"
    for row in template_rows():
        sheet.append(row)
    for column in "AEFGH":  # NIK, phone, desa code, RT/RW are text: typed values keep leading zeros and dots
        sheet.column_dimensions[column].number_format = "@"
    help_sheet = book.create_sheet("petunjuk")
    help_sheet.append(["kolom", "wajib", "keterangan", "description"])
    for name, (required, text_id, text_en, _example) in COLUMNS.items():
        help_sheet.append([name, "ya" if required else "tidak", text_id, text_en])
    help_sheet.append([])
    help_sheet.append(["pekerjaan (kode)", "", "nama", ""])
    for code, label in OCCUPATIONS.items():
        help_sheet.append([code, "", label, ""])
    book.save(xlsx_path)
    return [csv_path, xlsx_path]
