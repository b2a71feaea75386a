"""Every purpose's template in both forms, SMS lengths, the preview command, channel orders with fallback."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from services.notification.domain import messages, plan, texts
from services.notification.domain.routes import ChannelPolicy, Route, nominator_routes, template_form
from services.notification.handlers import preview
from services.notification.settings import NotificationSettings
from shared.contracts import EnrolmentConfirmed, EnrolmentEnded, EnrolmentRefused, Nominator
from shared.regions import default_regions

REGIONS = default_regions()
DESA = "64.08.01.2001"
NOMINATOR = Nominator(type="desa", name="Kades", region_code=DESA, phone="081298765432", email="kades@desa.example")
LONGEST_DATE = date(2026, 9, 30)
LONGEST_FUNDER = "APBD Kab. Kutai Timur"


def confirmed(promoted: bool = False, funder: str = LONGEST_FUNDER) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB",
        funding_source_name=funder, programme_year=2026, coverage_start=LONGEST_DATE, full_name="Siti",
        phone="081234567890", desa_code=DESA, nominator=NOMINATOR, promoted_from_waitlist=promoted,
    )  # fmt: skip


def ended(reason: str, phone: str = "081234567890") -> EnrolmentEnded:
    return EnrolmentEnded(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB", programme_year=2026,
        reason=reason, coverage_end=LONGEST_DATE, full_name="Siti Aminah", phone=phone, desa_code=DESA,
        nominator=NOMINATOR,
    )  # fmt: skip


def render(planned: plan.Planned, form: messages.Form = "short") -> str:
    return messages.render(planned.template, planned.template_version, planned.variables, form)


def test_every_purpose_of_the_contract_has_a_template() -> None:
    from typing import get_args

    from shared.contracts import Purpose

    assert set(get_args(Purpose)) <= set(texts.TEMPLATE_VERSIONS)
    for name in texts.TEMPLATE_VERSIONS:
        for channel in ("sms", "whatsapp", "email"):
            assert preview.preview(name, channel=channel)


def test_a_promotion_from_the_waitlist_has_its_own_purpose_and_fits_one_sms() -> None:
    [planned] = plan.plan(uuid.uuid4(), confirmed(promoted=True), ChannelPolicy(), REGIONS)
    assert (planned.purpose, planned.template) == ("enrolment_promoted", "enrolment_promoted")
    text = render(planned)
    assert "daftar tunggu" in text and "12345678901" in text and messages.fits_one_sms(text), len(text)
    long = render(planned, "long")
    assert "daftar tunggu" in long and "JKK" in long and "175" in long


def test_the_long_confirmation_tells_what_jkk_and_jkm_pay_how_to_claim_and_the_call_centre() -> None:
    [planned] = plan.plan(uuid.uuid4(), confirmed(), ChannelPolicy(), REGIONS)
    text = render(planned, "long")
    for needle in ("12345678901", "30 September 2026", "JKK", "JKM", "Rp42 juta", "Rp20 juta", "Rp12 juta",
                   "Rp10 juta", "beasiswa", "Cara klaim", "5 tahun", "175", LONGEST_FUNDER):  # fmt: skip
        assert needle in text, needle


@pytest.mark.parametrize("reason", sorted(set(texts.END_REASONS_ID) - {"deceased"}))
def test_coverage_ended_says_why_in_one_sms(reason: str) -> None:
    [planned] = plan.plan(uuid.uuid4(), ended(reason), ChannelPolicy(), REGIONS)
    assert (planned.purpose, planned.recipient_role) == ("enrolment_ended", "beneficiary")
    text = render(planned)
    assert texts.END_REASONS_ID[reason] in text and "30 September 2026" in text
    assert messages.fits_one_sms(text), (len(text), text)


def test_a_death_tells_the_family_and_the_nominator_how_to_claim_the_death_benefit() -> None:
    family, official = plan.plan(uuid.uuid4(), ended("deceased"), ChannelPolicy(), REGIONS)
    assert {(p.purpose, p.recipient_role) for p in (family, official)} == {
        ("death_benefit_information", "beneficiary"), ("death_benefit_information", "nominator")
    }  # fmt: skip
    assert family.route == Route("local", "+6281234567890")  # the family reads the member's phone
    assert messages.fits_one_sms(render(family)) and "Rp42 juta" in render(family)
    long = render(family, "long")
    for needle in ("Rp42 juta", "Rp20 juta", "Rp12 juta", "Rp10 juta", "beasiswa", "5 tahun", "175", "Siti Aminah"):
        assert needle in long, needle


def test_a_bpjs_refusal_tells_the_nominator_bpjs_reason_and_not_the_beneficiary() -> None:
    nomination_id = uuid.uuid4()
    refused = EnrolmentRefused(
        nomination_id=nomination_id, programme_year=2026, refusal_code="PU_ACTIVE",
        refusal_reason="Sudah terdaftar sebagai peserta Penerima Upah", full_name="Siti Aminah",
        desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip
    [planned] = plan.plan(uuid.uuid4(), refused, ChannelPolicy(), REGIONS)
    assert (planned.purpose, planned.recipient_role) == ("enrolment_refused", "nominator")
    text = render(planned)
    for needle in ("ditolak BPJS", "Sudah terdaftar sebagai peserta Penerima Upah", "PU_ACTIVE", "Siti Aminah",
                   texts.short_reference(nomination_id)):  # fmt: skip
        assert needle in text, needle


def test_sms_segments_count_gsm7_and_ucs2_parts() -> None:
    assert messages.sms_segments("a" * 160) == 1 and messages.sms_segments("a" * 161) == 2
    assert messages.sms_segments("a" * 306) == 2 and messages.sms_segments("a" * 307) == 3
    assert messages.sms_segments("é" * 160) == 1  # é is in GSM-7
    assert messages.sms_segments("ā" * 70) == 1 and messages.sms_segments("ā" * 71) == 2  # UCS-2


def test_the_preview_command_prints_text_length_and_parts(capsys: pytest.CaptureFixture[str]) -> None:
    from services.notification.handlers.preview import command

    assert command(["enrolment_confirmed", "--channel", "sms"]) == 0
    out = capsys.readouterr().out
    assert "template enrolment_confirmed v1, channel sms" in out and "1 SMS part(s)" in out
    assert command(["death_benefit_information", "--channel", "whatsapp", "--version", "1"]) == 0
    out = capsys.readouterr().out
    assert "payung_death_benefit_information_v1" in out and "{{1}} = Siti Aminah binti Abdullah" in out


def test_whatsapp_parameters_are_single_line_texts_in_template_order() -> None:
    [planned] = plan.plan(uuid.uuid4(), confirmed(), ChannelPolicy(), REGIONS)
    assert messages.whatsapp_parameters(planned.template, planned.variables) == [
        "30 September 2026", LONGEST_FUNDER, "12345678901", "Rp42 juta", "175"
    ]  # fmt: skip


# --- channel order with fallback ------------------------------------------------------------------------------------


def test_a_beneficiary_is_routed_over_every_channel_of_the_order() -> None:
    policy = ChannelPolicy(beneficiary=("whatsapp", "sms_http"))
    [planned] = plan.plan(uuid.uuid4(), confirmed(), policy, REGIONS)
    assert planned.routes == (Route("whatsapp", "+6281234567890"), Route("sms_http", "+6281234567890"))
    assert template_form("whatsapp") == "long" and template_form("sms_http") == "short"


@pytest.mark.parametrize(
    ("order", "contact", "routes"),
    [
        (("email_smtp", "whatsapp", "sms_http"), NOMINATOR,
         [Route("email_smtp", "kades@desa.example"), Route("whatsapp", "+6281298765432"),
          Route("sms_http", "+6281298765432")]),
        (("whatsapp", "email_smtp"), Nominator(type="rt", name="RT", region_code=DESA, email="rt@desa.example"),
         [Route("email_smtp", "rt@desa.example")]),
        (("sms_http", "email_smtp"), Nominator(type="rt", name="RT", region_code=DESA, phone="0812",
                                               email="rt@desa.example"),
         [Route("email_smtp", "rt@desa.example")]),
    ],
)  # fmt: skip
def test_a_nominator_is_routed_over_the_channels_that_can_carry_their_contacts(
    order: tuple[str, ...], contact: Nominator, routes: list[Route]
) -> None:
    assert nominator_routes(contact, ChannelPolicy(nominator=order, smtp_configured=True)) == routes


def settings(**extra: Any) -> NotificationSettings:
    return NotificationSettings(database_url="postgresql://unused/db", kafka_bootstrap="127.0.0.1:1", **extra)


def test_channel_orders_come_from_comma_separated_settings() -> None:
    configured = settings(
        beneficiary_channels="whatsapp, sms_http", whatsapp_phone_number_id="1", whatsapp_token="t",
        sms_gateway_url="http://127.0.0.1:9/sms", sms_gateway_token="t",
    )  # fmt: skip
    assert configured.beneficiary_order == ("whatsapp", "sms_http")
    assert settings().beneficiary_order == ("local",)
    with pytest.raises(ValueError, match="whatsapp channel needs"):
        settings(beneficiary_channels="whatsapp")
    with pytest.raises(ValueError, match="unknown channel"):
        settings(beneficiary_channels="pigeon")
    with pytest.raises(ValueError, match="twice"):
        settings(beneficiary_channels="local,local")


async def test_provider_webhooks_bypass_the_api_key_guard_but_not_the_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx

    from services.notification.app import create
    from services.notification.bootstrap import make_deps
    from shared.service import Runtime

    monkeypatch.setenv("PAYUNG_DATABASE_URL", "postgresql://unused/db")
    monkeypatch.setenv("PAYUNG_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("PAYUNG_WEBHOOK_SECRET", "s3cret")
    app = create()
    configured = settings(webhook_secret="s3cret")
    app.state.runtime = Runtime(settings=configured, pool=None, relay=None, broker=None)  # type: ignore[arg-type]
    app.state.runtime.deps = make_deps(None, configured, {})  # type: ignore[arg-type]  # no database: refused first
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        receipt = await client.post("/v1/receipts/whatsapp", content=b"{}", headers={"X-Hub-Signature-256": "sha256=0"})
        assert (receipt.status_code, receipt.json()["detail"], receipt.headers["content-type"]) == (
            401,
            "bad or missing signature",
            "application/problem+json",
        )
        guarded = await client.get("/v1/deliveries", params={"status": "failed"})
        assert (guarded.status_code, guarded.json()["code"]) == (401, "UNAUTHENTICATED")  # the edge answered
