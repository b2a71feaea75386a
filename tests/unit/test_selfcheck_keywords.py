"""Keyword parsing (services/nomination/domain/keywords.py): CEK, SANGGAH, DAFTAR as people type them; garbage,
oversized and unicode texts get the help answer, never an error."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.nomination.domain.keywords import (
    Cek,
    Daftar,
    Help,
    Sanggah,
    find_desa,
    find_occupation,
    parse,
    parse_birth_date,
)
from shared.regions import default_regions

REGIONS = default_regions()
NIK = "6408014501900001"
BORN = date(1990, 1, 5)


def p(text: str) -> object:
    return parse(text, REGIONS, "64.08")


@pytest.mark.parametrize(
    "text",
    [
        f"CEK {NIK} 05-01-1990",
        f"cek {NIK} 05/01/1990",
        f"  Cek   {NIK}    05011990  ",
        f"CEK#{NIK}#05.01.1990",
        f"CEK {NIK}\n05-01-1990",
        "ＣＥＫ ６４０８０１４５０１９００００１ ０５-０１-１９９０",  # full-width, as some keyboards send
    ],
)
def test_cek_is_tolerant(text: str) -> None:
    assert p(text) == Cek(NIK, BORN)


@pytest.mark.parametrize(
    "text",
    [
        "CEK",
        f"CEK {NIK}",
        f"CEK {NIK} 31-02-1990",  # no such day
        f"CEK {NIK} 1990-01-05 extra",
        "CEK 6408014599900001 05-01-1990",  # impossible NIK birth day (99)
        "CEK 640801450190000 05-01-1990",  # 15 digits
        f"CEK {NIK} 5-1-90",
    ],
)
def test_malformed_cek_gets_the_cek_help(text: str) -> None:
    assert p(text) == Help("CEK")


def test_birth_dates() -> None:
    assert parse_birth_date("05-01-1990") == BORN
    assert parse_birth_date("05011990") == BORN
    assert parse_birth_date("1990-01-05") is None
    assert parse_birth_date("00-01-1990") is None


def test_sanggah() -> None:
    assert p(f"SANGGAH {NIK} 05-01-1990 saya masih hidup, tolong diperiksa") == Sanggah(
        NIK, BORN, "not_deceased", "saya masih hidup, tolong diperiksa"
    )
    assert p(f"sanggah {NIK} 05011990 saya tidak pindah").reason_code == "not_moved"  # type: ignore[attr-defined]
    assert p(f"SANGGAH {NIK} 05011990 mohon dicek").reason_code == "other"  # type: ignore[attr-defined]
    assert p(f"SANGGAH {NIK} 05-01-1990") == Help("SANGGAH")
    assert p("SANGGAH saya masih hidup") == Help("SANGGAH")


def test_daftar() -> None:
    assert p("DAFTAR Siti Aminah#Senyiur#nelayan") == Daftar("Siti Aminah", "64.08.01.2001", "nelayan")
    assert p("daftar  siti aminah # senyiur # Petani") == Daftar("siti aminah", "64.08.01.2001", "petani_pekebun")
    assert p("DAFTAR Siti#Senyur#ojek online").desa_code == "64.08.01.2001"  # type: ignore[attr-defined]
    assert p("DAFTAR Siti#Senyiur#buruh_harian_lepas").occupation == "buruh_harian_lepas"  # type: ignore[attr-defined]
    assert p("DAFTAR Siti#Kota Antah#nelayan") == Help("DAFTAR")  # no such desa in the regency
    assert p("DAFTAR Siti#Senyiur#astronot") == Help("DAFTAR")
    assert p("DAFTAR <script>#Senyiur#nelayan") == Help("DAFTAR")
    assert p("DAFTAR Siti Senyiur nelayan") == Help("DAFTAR")


def test_desa_outside_the_regency_is_not_found() -> None:
    assert find_desa("Senyiur", REGIONS, "64.09") is None
    assert find_desa("", REGIONS, "64.08") is None
    assert find_desa("Senyiur, Muara Ancalong", REGIONS, "64.08") == "64.08.01.2001"
    assert find_desa("Senyiur, Kecamatan Lain", REGIONS, "64.08") is None


def test_occupations() -> None:
    assert find_occupation("Nelayan") == "nelayan"
    assert find_occupation("sopir") == "sopir"
    assert find_occupation("pedagang kaki lima") == "pedagang_kecil"
    assert find_occupation("") is None


@pytest.mark.parametrize(
    "text",
    ["", " ", "HALO", "cek" * 200, "X" * 10_000, "\x00\x01CEK", "‮CEK", "🙂🙂🙂", "123", "#", "CEK#" * 100],
)
def test_anything_else_is_help(text: str) -> None:
    assert isinstance(p(text), Help)


@given(st.text(max_size=600))
def test_parse_never_raises(text: str) -> None:
    assert isinstance(p(text), Cek | Sanggah | Daftar | Help)


@pytest.mark.parametrize("topic", ["CEK", "SANGGAH", "DAFTAR"])
def test_the_example_the_help_reply_gives_is_understood(topic: str) -> None:
    """A person who copies the help text's example must not get the help text again (it once said commas for DAFTAR,
    which the parser reads as one part)."""
    from services.notification.domain import messages, replytexts

    text = messages.render("keyword_help", replytexts.TEMPLATE_VERSIONS["keyword_help"], {"help_topic": topic})
    example = text.split("contoh ", 1)[1].strip()
    parsed = p(example)
    assert not isinstance(parsed, Help), (example, parsed)
    assert type(parsed).__name__.upper() == topic
