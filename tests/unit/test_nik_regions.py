"""NIKs issued anywhere in Indonesia (issue 16): every province and regency of the national list, and codes that
moved, through each place that checks a NIK: intake (nomination), the structure layer (verification), the
spreadsheet import. Generated from the bundled CSV, so a new list version is tested by the same tests."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from services.nomination import domain as nomination
from services.verification import domain as verification
from shared.regions import NATIONAL_FILE, default_regions, national_regions, nik_place
from shared.sheets import rows as sheets

with NATIONAL_FILE.open(encoding="utf-8") as _handle:
    _ROWS = list(csv.DictReader(_handle))
PROVINCES = [r["kode"] for r in _ROWS if r["tingkat"] == "provinsi"]
REGENCIES = [r["kode"] for r in _ROWS if r["tingkat"] == "kabupaten_kota"]
# Regency codes that moved: NIKs issued before keep them. Kalimantan Utara split from Kalimantan Timur in 2012
# (64.04 Bulungan, 64.05 Malinau, 64.06 Nunukan, 64.10 Tana Tidung, 64.73 Tarakan); Papua's 2022 split moved
# Merauke 91.01, Jayawijaya 91.02, Nabire 91.04, Mimika 91.09 and Papua Barat's Sorong 92.01, Kota Sorong 92.71.
MOVED = ["64.04", "64.05", "64.06", "64.10", "64.73", "91.01", "91.02", "91.04", "91.09", "92.01", "92.71"]
BORN = date(1990, 1, 5)
BATCH = sheets.Batch({"type": "disnaker", "name": "Disnaker", "region_code": "64.08"}, None)


def nik_of(regency: str) -> str:
    return regency.replace(".", "") + "01" + "450190" + "0001"  # kecamatan 01, a woman born 05-01-1990


def row(nik: str) -> dict[str, str]:
    return {
        "nik": nik,
        "nama_lengkap": "Siti Aminah",
        "tanggal_lahir": "1990-01-05",
        "jenis_kelamin": "P",
        "no_hp": "081234567890",
        "kode_desa": "64.08.01.2001",
        "rt": "1",
        "rw": "1",
        "pekerjaan": "nelayan",
    }


def test_the_national_list_has_every_province_and_regency() -> None:
    assert len(PROVINCES) == 38 and len(REGENCIES) == 514
    assert {"65", "93", "94", "95", "96"} <= set(PROVINCES)  # Kalimantan Utara and Papua's new provinces
    assert not set(MOVED) & set(REGENCIES)


@pytest.mark.parametrize("regency", REGENCIES)
def test_a_nik_of_every_regency_passes_every_check(regency: str) -> None:
    nik = nik_of(regency)
    assert nik_place(nik) == "known"
    assert nomination.validate_nik(nik, default_regions()) == nik
    outcome = verification.nik_structure(nik, BORN, "F", default_regions())
    assert outcome.status in ("passed", "flagged"), outcome
    assert "NIK_REGENCY_UNKNOWN" not in [f.code for f in outcome.findings]
    request, errors = sheets.to_request(2, row(nik), BATCH)
    assert errors == [] and request is not None


def test_kalimantan_utara_passes_intake() -> None:
    # refused as an invalid NIK before issue 16 (python-stdnum's list lacks 65xx)
    assert nomination.validate_nik("6501014501900001", default_regions()) == "6501014501900001"
    assert verification.nik_structure("6501014501900001", BORN, "F", default_regions()).status == "passed"


@pytest.mark.parametrize("regency", MOVED)
def test_a_moved_regency_code_is_accepted_and_flagged_for_review(regency: str) -> None:
    nik = nik_of(regency)
    assert nik_place(nik) == "regency_unknown"
    assert nomination.validate_nik(nik, default_regions()) == nik
    outcome = verification.nik_structure(nik, BORN, "F", default_regions())
    assert outcome.status == "flagged" and [f.code for f in outcome.findings] == ["NIK_REGENCY_UNKNOWN"]
    assert nik not in outcome.findings[0].detail
    request, errors = sheets.to_request(2, row(nik), BATCH)
    assert errors == [] and request is not None


@pytest.mark.parametrize("province", sorted({f"{p:02d}" for p in range(100)} - set(PROVINCES)))
def test_a_nik_of_an_unknown_province_is_invalid_everywhere(province: str) -> None:
    nik = f"{province}0101450190" + "0001"
    assert nik_place(nik) == "province_unknown"
    with pytest.raises(nomination.InvalidField):
        nomination.validate_nik(nik, default_regions())
    outcome = verification.nik_structure(nik, BORN, "F", default_regions())
    assert outcome.status == "failed" and [f.code for f in outcome.findings] == ["NIK_INVALID"]
    request, errors = sheets.to_request(2, row(nik), BATCH)
    assert request is None and [e.column for e in errors] == ["nik"]


def test_an_impossible_encoded_date_is_invalid_at_intake_and_import() -> None:
    nik = "6408013102900001"  # 31 February
    with pytest.raises(nomination.InvalidField):
        nomination.validate_nik(nik, default_regions())
    _, errors = sheets.to_request(2, row(nik), BATCH)
    assert errors and errors[0].reason_id.startswith("Tanggal lahir pada NIK")


def test_the_national_list_is_versioned_data() -> None:
    assert national_regions().version == default_regions().version
    assert len(national_regions()) == 552
