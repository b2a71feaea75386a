"""Planning the member's card (notification's domain): beside the confirmation, on the routes that carry a file
(WhatsApp, e-mail) only; none for a phone reached only by SMS, none with cards off, none for an unusable phone."""

from __future__ import annotations

import uuid
from datetime import date

from services.notification.domain import messages, plan
from services.notification.domain.routes import ChannelPolicy, Route
from shared.contracts import EnrolmentConfirmed, Nominator
from shared.regions import default_regions

DESA = "64.08.01.2001"


def confirmed(phone: str = "081234567890", promoted: bool = False) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Kartanegara", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti Aminah", phone=phone, desa_code=DESA,
        nominator=Nominator(type="desa", name="Kades", region_code=DESA, phone="081298765432"),
        promoted_from_waitlist=promoted,
    )  # fmt: skip


def planned(payload: EnrolmentConfirmed, policy: ChannelPolicy) -> list[plan.Planned]:
    return plan.plan(uuid.uuid4(), payload, policy, default_regions())


def test_the_card_goes_beside_the_confirmation_on_whatsapp_only() -> None:
    payload = confirmed(promoted=True)
    policy = ChannelPolicy(beneficiary=("whatsapp", "sms_http"), membership_cards=True)
    told, card = planned(payload, policy)
    assert told.purpose == "enrolment_promoted" and told.routes[-1].channel == "sms_http"
    assert (card.purpose, card.recipient_role, card.template) == ("membership_card", "beneficiary", "membership_card")
    assert card.routes == (Route("whatsapp", "+6281234567890"),) and card.intended_channel == "whatsapp"
    assert card.delivery_id != told.delivery_id
    assert card.variables["card"] == {
        "full_name": "Siti Aminah",
        "membership_number": "12345678901",
        "funding_source_name": "APBD Kab. Kutai Kartanegara",
        "coverage_start": "2026-12-01",
        "desa_name": "Senyiur",
        "nomination_id": str(payload.nomination_id),
    }
    route = messages.rendered_route(card.template, card.template_version, card.variables, card.routes[0], "payung_")
    assert route["whatsapp_template"] == "payung_membership_card_v1" and route["card"] == card.variables["card"]
    assert route["params"] == ["12345678901", "1 Desember 2026", "175"]
    assert "terlampir" in route["body"] and "12345678901" in route["body"]
    short = messages.render(card.template, card.template_version, card.variables)
    assert messages.fits_one_sms(short), len(short)


def test_no_card_by_sms_only_with_cards_off_or_without_a_usable_phone() -> None:
    assert [p.purpose for p in planned(confirmed(), ChannelPolicy("sms_http", membership_cards=True))] == [
        "enrolment_confirmed"
    ]
    assert [p.purpose for p in planned(confirmed(), ChannelPolicy(("whatsapp", "sms_http")))] == ["enrolment_confirmed"]
    unusable = planned(confirmed(phone="12"), ChannelPolicy(("whatsapp",), membership_cards=True))
    assert [(p.purpose, p.template) for p in unusable] == [
        ("enrolment_confirmed", "enrolment_confirmed"),
        ("enrolment_confirmed", "contact_invalid"),
    ]
