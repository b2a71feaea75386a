"""Rendering: every template, its length as an SMS, Indonesian dates, and the GSM-7 arithmetic behind it."""

from __future__ import annotations

import uuid
from datetime import date

import jinja2
import pytest

from services.notification.domain import messages, plan, texts
from services.notification.domain.routes import ChannelPolicy
from shared.contracts import EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected, Nominator, Reason
from shared.regions import default_regions

REGIONS = default_regions()
NOMINATOR = Nominator(type="desa", name="Kades", region_code="64.08.01.2001", phone="081298765432")
# Realistic names of the bodies paying; the longest fits one SMS with the longest date.
FUNDERS = ("APBD Kab. Kutai Timur", "APBD Kab. PPU", "APBD Prov. Kaltim", "APBD Kab. Paser")
LONGEST_DATE = date(2026, 9, 30)  # "30 September 2026": the longest day + month


def render(planned: plan.Planned) -> str:
    return messages.render(planned.template, planned.template_version, planned.variables)


def confirmed_text(funder: str, start: date, membership: str = "12345678901") -> str:
    payload = EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number=membership, funding_source="APBD-KAB",
        funding_source_name=funder, programme_year=2026,
        coverage_start=start, full_name="Siti", phone="081234567890", desa_code="64.08.01.2001", nominator=NOMINATOR,
    )  # fmt: skip
    return render(plan.plan(uuid.uuid4(), payload, ChannelPolicy(), REGIONS)[0])


def waitlisted_text(position: int, year: int = 2026) -> str:
    payload = EnrolmentWaitlisted(
        nomination_id=uuid.uuid4(), programme_year=year, position=position, full_name="Siti", phone="081234567890",
        desa_code="64.08.01.2001", nominator=NOMINATOR,
    )  # fmt: skip
    return render(plan.plan(uuid.uuid4(), payload, ChannelPolicy(), REGIONS)[0])


def rejected_text(*codes: str, desa: str = "64.01.01.2009") -> tuple[str, uuid.UUID]:
    payload = IdentityRejected(
        nomination_id=uuid.uuid4(), reasons=tuple(Reason(code=c, detail="d") for c in codes),
        full_name="Siti Aminah", nominator=NOMINATOR,
        desa_code=desa,
    )  # fmt: skip
    return render(plan.plan(uuid.uuid4(), payload, ChannelPolicy(), REGIONS)[0]), payload.nomination_id


def test_confirmation_says_what_cover_who_pays_the_number_the_start_benefit_and_call_centre() -> None:
    text = confirmed_text("APBD Kab. Kutai Timur", date(2026, 12, 1))
    assert text == (
        "Anda peserta BPJS Ketenagakerjaan JKK+JKM mulai 1 Desember 2026, dibayar APBD Kab. Kutai Timur. "
        "No peserta 12345678901. Santunan kematian Rp42 juta. Info: 175"
    )


@pytest.mark.parametrize("funder", FUNDERS)
def test_confirmation_fits_one_sms_even_with_the_longest_date(funder: str) -> None:
    text = confirmed_text(funder, LONGEST_DATE)
    assert messages.gsm7_length(text) is not None, "must stay in the GSM-7 alphabet (UCS-2 halves an SMS)"
    assert messages.fits_one_sms(text), f"{messages.gsm7_length(text)} > 160: {text}"


def test_waitlisting_gives_the_position_and_fits_one_sms() -> None:
    text = waitlisted_text(position=37)
    assert "daftar tunggu" in text and "urutan ke-37" in text and "2026" in text
    assert messages.fits_one_sms(waitlisted_text(position=1_500_000))


def test_rejection_names_the_nomination_its_village_and_how_to_fix_each_reason() -> None:
    text, nomination_id = rejected_text("NAME_MISMATCH", "AGE_OUT_OF_RANGE", "SOMETHING_NEW")
    lines = text.splitlines()
    assert nomination_id.hex[:8].upper() in lines[0] and "Desa Samurangau" in lines[0]
    assert lines[1:4] == [
        "- " + texts.REASON_EXPLANATIONS["NAME_MISMATCH"],
        "- " + texts.REASON_EXPLANATIONS["AGE_OUT_OF_RANGE"],
        "- " + texts.GENERIC_EXPLANATION,
    ]
    assert lines[-1] == "Pertanyaan: hubungi Disnaker setempat."


@pytest.mark.parametrize("code", sorted(texts.REASON_EXPLANATIONS))
def test_each_reason_renders_in_gsm7(code: str) -> None:
    text, _ = rejected_text(code)
    assert texts.REASON_EXPLANATIONS[code] in text
    assert messages.gsm7_length(text) is not None
    # One reason stays within two SMS parts (153 septets each when concatenated).
    assert messages.gsm7_length(text) <= 2 * 153


def test_every_current_template_exists_and_uses_only_known_variables() -> None:
    for template, version in texts.TEMPLATE_VERSIONS.items():
        assert (messages.TEMPLATES_DIR / messages.template_file(template, version)).is_file()
    with pytest.raises(jinja2.UndefinedError):
        messages.render("enrolment_waitlisted", 1, {"position": 3})  # programme_year missing


def test_rendering_is_pure() -> None:
    variables = {"position": 5, "programme_year": 2027}
    assert messages.render("enrolment_waitlisted", 1, variables) == messages.render(
        "enrolment_waitlisted", 1, dict(variables)
    )


def test_gsm7_length_counts_extension_characters_twice_and_refuses_other_scripts() -> None:
    assert messages.gsm7_length("Rp42 juta") == 9
    assert messages.gsm7_length("[ok]") == 6
    assert messages.gsm7_length("€") == 2
    assert messages.gsm7_length("Selamat 🎉") is None
    assert messages.gsm7_length("“kutip”") is None  # typographic quotes are not GSM-7
    assert messages.fits_one_sms("a" * 160) and not messages.fits_one_sms("a" * 161)
