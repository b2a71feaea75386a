"""The formats every service shares (shared/formats.py): one rule each, reasons that never repeat the value."""

from __future__ import annotations

import pytest

from shared import formats


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("081234567890", "+6281234567890"), ("+62 812-3456-7890", "+6281234567890"), ("6281234567890", "+6281234567890")],
)
def test_an_indonesian_mobile_number_comes_back_in_e164(raw: str, e164: str) -> None:
    assert formats.mobile_number(raw) == e164
    assert formats.is_mobile_number(raw)


def test_a_landline_is_refused_as_not_a_mobile_and_a_foreign_mobile_as_not_indonesian() -> None:
    with pytest.raises(formats.NotAMobileNumber):
        formats.mobile_number("0541 741234")  # a Samarinda landline
    with pytest.raises(formats.InvalidFormat) as foreign:
        formats.mobile_number("+61 412 345 678")
    assert not isinstance(foreign.value, formats.NotAMobileNumber)
    for junk in ("", "not a number", "0812", "+62" + "9" * 30):
        assert not formats.is_mobile_number(junk)


def test_a_nik_needs_sixteen_digits_and_a_real_birth_date_and_the_reason_never_holds_it() -> None:
    assert formats.nik("6408014501900001") == "6408014501900001"  # a woman born 5 January 1990 (45 = 5 + 40)
    # day 99 and 80: python-stdnum alone reads the day modulo 40 (19th, 0th) and took day 99 for a date
    for bad in (
        "640801450190000",
        "64080145019000011",
        "６４０８０１４５０１９０００１",
        "6408013202900001",
        "6408019905870001",
        "6408013605870001",
        "6408017205870001",
        "6408010005870001",
    ):
        with pytest.raises(formats.InvalidFormat) as refused:
            formats.nik(bad)
        assert bad not in str(refused.value)


def test_email_is_plausible_and_stripped() -> None:
    assert formats.email("  kades@desa-sangatta.id ") == "kades@desa-sangatta.id"
    for bad in (
        "kades",
        "kades@desa",
        "a b@desa.id",
        "kades@desa.i",
        '"x"@desa.id',
        "x@desa.id;y@desa.id",
        "a" * 200 + "@d.id",
    ):
        with pytest.raises(formats.InvalidFormat):
            formats.email(bad)


def test_occupations_and_purposes_are_closed_lists() -> None:
    assert formats.occupation("nelayan") == "nelayan"
    with pytest.raises(formats.InvalidFormat):
        formats.occupation("pegawai_negeri")
    assert formats.OCCUPATION_CODES == frozenset(formats.OCCUPATIONS)
    assert "enrolment_confirmed" in formats.PURPOSES and len(set(formats.PURPOSES)) == len(formats.PURPOSES)
