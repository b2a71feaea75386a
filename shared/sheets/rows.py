"""A village's spreadsheet of nominations (the import template): reading it, each row's nomination request, and
how an answer to that request becomes the row's outcome. Pure: bytes in, values out, no I/O.

Used by the portal's upload (services/nomination/handlers/uploads.py) and by the operator's ``payung import``
(deploy/ops/importer.py, which keeps the HTTP submission loop).
The columns are documented by the template and docs/cli.md. Every row is checked here first (required values,
dates, codes, a NIK Excel cut to 15 digits); its request carries an ``Idempotency-Key`` derived from the request
itself, so importing the same file again replays the earlier answers and creates nothing twice; a corrected row is
a new request. The template's example row (``EXAMPLE_NIK``) is never imported.

Reading a file is ``shared.sheets.read``; the report and the template are ``shared.sheets.files``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import orjson

from shared.formats import OCCUPATIONS, nik_date_valid
from shared.regions import default_regions, nik_place

# column -> (required, description in Bahasa Indonesia, description in English, example)
COLUMNS: dict[str, tuple[bool, str, str, str]] = {
    "nik": (True, "NIK 16 angka sesuai KTP/KK", "16-digit NIK as on the ID card", "6408015708950001"),
    "nama_lengkap": (True, "Nama lengkap sesuai KTP", "Full name as on the ID card", "Siti Aminah"),
    "tanggal_lahir": (True, "Tanggal lahir (TTTT-BB-HH atau HH-BB-TTTT)", "Birth date", "1995-08-17"),
    "jenis_kelamin": (True, "L (laki-laki) atau P (perempuan)", "Sex: L (male) or P (female)", "P"),
    "no_hp": (True, "Nomor HP aktif (08xx)", "Mobile phone number", "081234567890"),
    "kode_desa": (True, "Kode desa/kelurahan Kemendagri", "Official desa/kelurahan code", "64.08.01.2001"),
    "rt": (True, "Nomor RT", "RT (neighbourhood) number", "003"),
    "rw": (True, "Nomor RW", "RW number", "001"),
    "alamat": (False, "Jalan / dusun (boleh kosong)", "Street / hamlet (optional)", "Jl. Poros Sangatta"),
    "pekerjaan": (True, "Kategori pekerja (kode atau nama)", "Worker category (code or label)", "nelayan"),
}
REPORT_COLUMNS = ("status", "id_nominasi", "baris", "kolom", "alasan", "reason")
# The template's example row carries this NIK (a well-formed one): a row with it is the example, never imported.
EXAMPLE_NIK = COLUMNS["nik"][3]
# Columns the template formats as text: typed values keep their leading zeros, dots and all 16 digits.
TEXT_COLUMNS = ("nik", "no_hp", "kode_desa", "rt", "rw")
# the nominator and the letter, on the template's "pengusul" sheet: key -> (description, the command-line option)
BATCH_FIELDS: dict[str, tuple[str, str]] = {
    "jenis_pengusul": ("rt, desa atau disnaker", "--nominator-type"),
    "nama_pengusul": ("Nama pejabat yang mengusulkan", "--nominator-name"),
    "kode_wilayah_pengusul": ("Kode desa (rt, desa) atau kabupaten (disnaker)", "--nominator-region"),
    "hp_pengusul": ("Nomor HP pengusul (untuk pemberitahuan)", "--nominator-phone"),
    "nomor_surat": ("Nomor surat keterangan", "--letter-number"),
    "tanggal_surat": ("Tanggal surat, TTTT-BB-HH", "--letter-date"),
    "penandatangan_surat": ("Pejabat yang menandatangani surat", "--letter-issuer"),
}
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
    replayed_rows: set[int] = field(default_factory=set)
    refused: str | None = None  # the service refused the caller (401/403 other than out of area): nothing more sent


@dataclass(frozen=True)
class Sheet:
    """The data rows of a file, which of their cells were numbers (a NIK Excel may have cut), and its format."""

    rows: list[tuple[int, dict[str, str]]]
    numeric: dict[int, frozenset[str]] = field(default_factory=dict)  # row -> columns read from number cells
    delimiter: str | None = None  # CSV only: the input's delimiter, kept for the report


def is_example(row: Mapping[str, str]) -> bool:
    """The template's example row (its NIK): never imported, whatever else was typed over it."""
    return row.get("nik", "").replace(" ", "") == EXAMPLE_NIK


# ------------------------------------------------------------------------------------------------- mapping


_DATE_FORMS = (
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), (0, 1, 2)),  # 1990-01-05, 1990/1/5
    (re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})"), (2, 1, 0)),  # 05-01-1990, 5/1/1990, 05.01.1990
)
_EXCEL_EPOCH = date(1899, 12, 30)


def _date(text: str, from_number: bool = False) -> date | str:
    """The date a cell gives, or why not: ``"format"`` (not a date form) or ``"no_such_day"`` (31/02/1960).

    A date cell Excel shows as a number (days since 1899-12-30) is read as that date."""
    text = text.strip()
    if from_number and text.isdigit() and 0 < int(text) < 80_000:
        return _EXCEL_EPOCH + timedelta(days=int(text))
    for pattern, (y, m, d) in _DATE_FORMS:
        match = pattern.fullmatch(text)
        if match:
            parts = match.groups()
            try:
                return date(int(parts[y]), int(parts[m]), int(parts[d]))
            except ValueError:
                return "no_such_day"
    return "format"


def _desa_code(text: str) -> str:
    """``64.08.01.2001``, ``6408012001`` or the template's list entry ``64.08.01.2001 Senyiur`` -> the dotted code."""
    text = text.strip().split(" ", 1)[0] if text.strip() else text
    digits = text.replace(".", "").strip()
    if len(digits) == 10 and digits.isdigit():
        return f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:]}"
    return text.strip()


def to_request(
    number: int, row: Mapping[str, str], batch: Batch, numeric: frozenset[str] = frozenset()
) -> tuple[dict[str, Any] | None, list[RowError]]:
    """The nomination request a row makes, or the reasons it cannot make one (pure: no I/O).

    ``numeric``: the row's columns that came from number cells of a spreadsheet. Excel keeps 15 significant digits,
    so a 16-digit NIK typed into a number cell comes back with its last digit turned into 0: such a NIK is
    refused here ("kemungkinan terpotong oleh Excel") rather than failing later as REGISTRY_NOT_FOUND."""
    errors: list[RowError] = []

    def bad(column: str, reason_id: str, reason_en: str) -> None:
        errors.append(RowError(number, column, reason_id, reason_en))

    for column, (required, *_rest) in COLUMNS.items():
        if required and not row.get(column, "").strip():
            bad(column, "Kolom wajib diisi", "required column is empty")
    if errors:
        return None, errors
    nik = row["nik"].replace(" ", "")
    if _SCIENTIFIC.fullmatch(nik):
        bad("nik", _TRUNCATED_ID, "the NIK was written as a number in scientific notation (6.4E+15): digits lost")
    elif not (len(nik) == 16 and nik.isdigit()):
        bad("nik", "NIK harus 16 angka", "NIK must be 16 digits")
    elif "nik" in numeric and nik.endswith("0"):
        bad("nik", _TRUNCATED_ID, "a 16-digit NIK from a number cell ending in 0: Excel keeps 15 digits")
    elif nik_place(nik) == "province_unknown":
        bad("nik", "Kode provinsi pada NIK (2 angka pertama) tidak dikenal", "unknown province code in the NIK")
    elif not nik_date_valid(nik[6:12]):
        bad("nik", "Tanggal lahir pada NIK (angka 7-12) tidak mungkin", "the NIK's encoded birth date is impossible")
    birth = _date(row["tanggal_lahir"], "tanggal_lahir" in numeric)
    if birth == "no_such_day":
        bad("tanggal_lahir", "Tanggal tidak ada (periksa hari dan bulan)", "no such day (check day and month)")
    elif birth == "format":
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
    nominator = batch.nominator
    if not nominator.get("region_code"):
        nominator = {**nominator, "region_code": desa}  # a kecamatan's upload: each row's official is its desa's
    request = {
        "nik": nik,
        "full_name": " ".join(row["nama_lengkap"].split()),
        "birth_date": birth.isoformat() if isinstance(birth, date) else None,
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
        "nominator": nominator,
    }
    if batch.supporting_letter is not None:
        request["supporting_letter"] = batch.supporting_letter
    return request, []


_SCIENTIFIC = re.compile(r"\d[.,]\d+[eE]\+?\d+")
_TRUNCATED_ID = (
    "NIK kemungkinan terpotong oleh Excel (Excel hanya menyimpan 15 angka): format kolom nik sebagai Teks, "
    "lalu ketik ulang NIK sesuai KTP"
)


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


# ------------------------------------------------------------------------------------------------ answers

NOT_SENT_ID = "Tidak dikirim: layanan menolak akun ini (periksa PAYUNG_API_KEY), lalu impor ulang"
UNREACHABLE_ID = "Layanan nominasi tidak dapat dihubungi; impor ulang nanti"


def record_answer(result: ImportResult, number: int, status: int, replayed: bool, body: Any) -> None:
    """Fold what ``POST /v1/nominations`` answered for row ``number`` into ``result`` (the CLI gets the answer over
    HTTP, the portal's upload from the same route function in process: one mapping for both)."""
    if status >= 500:
        result.errors.append(RowError(number, "-", UNREACHABLE_ID, f"service: HTTP {status}"))
        return
    body = body if isinstance(body, dict) else {}
    if status == 202:
        result.nomination_ids[number] = body["nomination_id"]
        if replayed:
            result.replayed += 1
            result.replayed_rows.add(number)
        else:
            result.created += 1
    elif status == 409:
        nid = body.get("nomination_id")
        result.errors.append(
            RowError(
                number,
                "nik",
                f"NIK ini sudah diusulkan dan sedang diproses (nominasi {nid})",
                f"this NIK already has a nomination in progress ({nid})",
            )
        )
    elif status == 403 and body.get("code") == "OUT_OF_AREA":
        result.errors.append(
            RowError(
                number,
                "kode_desa",
                "Desa ini di luar wilayah akun Anda: ajukan lewat petugas wilayahnya",
                "the address lies outside the area of this account",
            )
        )
    elif status in (401, 403):
        result.refused = f"HTTP {status} {body.get('code', '')}"
        result.errors.append(RowError(number, "-", NOT_SENT_ID, f"refused: {result.refused}"))
    else:
        result.errors.extend(service_errors(number, body))
