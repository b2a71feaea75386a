"""Inbound messages and what notification answers: webhook bodies (hostile ones too), stable message ids, the
sender's key, the flood limit, every reply kind within 2 SMS, objection and lead messages."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.notification.domain import inbound, messages, receipts, replies, replytexts
from services.notification.domain.deliveries import Delivery
from services.notification.domain.routes import ChannelPolicy
from services.notification.errors import MalformedWebhook
from services.notification.handlers.outcomes import outcome_events
from shared import reasons
from shared.contracts import (
    InboundMessageAnswered,
    LeadReceived,
    Nominator,
    ObjectionFiled,
    ObjectionReviewed,
    SelfCheckStatus,
)
from shared.regions import default_regions

REGIONS = default_regions()
DESA = "64.08.01.2001"
PHONE = "+6281234567890"
NOMINATOR = Nominator(type="desa", name="Kades", region_code=DESA, phone="081298765432")
TWO_SMS = 306


# --- webhook bodies -------------------------------------------------------------------------------------------------


def test_an_sms_inbound_carries_its_gateway_id_and_a_whatsapp_one_its_wamid() -> None:
    _, [sms] = receipts.parse("sms_http", {"id": "gw-77", "from": PHONE, "text": "CEK 1 2"})
    assert (sms.sender, sms.text, sms.gateway_id) == (PHONE, "CEK 1 2", "gw-77")
    body = {"entry": [{"changes": [{"value": {"messages": [{"from": "6281234567890", "id": "wamid.X",
                                                              "text": {"body": "cek"}}]}}]}]}  # fmt: skip
    _, [wa] = receipts.parse("whatsapp", body)
    assert (wa.sender, wa.text, wa.gateway_id) == ("6281234567890", "cek", "wamid.X")
    _, [no_id] = receipts.parse("sms_http", {"from": PHONE, "text": "DAFTAR"})
    assert no_id.gateway_id is None


@pytest.mark.parametrize(
    "body",
    [
        {"from": PHONE, "text": ["CEK"]},  # text not a string
        {"from": {"x": 1}, "text": "CEK"},  # sender not a string
        {"from": PHONE, "text": "CEK\x00 1"},  # NUL (PostgreSQL refuses it)
        {"from": PHONE, "text": "A" * 5000},  # oversized text
        {"from": "+62" + "1" * 100, "text": "CEK"},  # oversized sender
        {"id": ["x"], "from": PHONE, "text": "CEK"},  # id of the wrong type
    ],
)
def test_hostile_sms_inbound_bodies_are_malformed_not_crashes(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedWebhook) as caught:
        receipts.parse("sms_http", body)
    assert PHONE not in str(caught.value) and "CEK" not in str(caught.value)  # the reason never echoes the value


def test_hostile_whatsapp_inbound_bodies_are_malformed() -> None:
    for messages_value in ({"from": 1}, [1], [{"from": PHONE, "id": {"a": 1}, "text": {"body": "x"}}]):
        body = {"entry": [{"changes": [{"value": {"messages": messages_value}}]}]}
        with pytest.raises(MalformedWebhook):
            receipts.parse("whatsapp", body)


def test_unknown_shapes_give_nothing() -> None:
    assert receipts.parse("sms_http", [1, "x", None]) == ([], [])
    assert receipts.parse("whatsapp", "text") == ([], [])


# --- ids, keys, text, limit -----------------------------------------------------------------------------------------


def test_message_ids_are_stable_per_channel_and_gateway_id() -> None:
    first = inbound.message_id("sms_http", "gw-1", PHONE, "CEK")
    assert first == inbound.message_id("sms_http", "gw-1", PHONE, "another text")  # the id decides
    assert first != inbound.message_id("whatsapp", "gw-1", PHONE, "CEK")
    assert first != inbound.message_id("sms_http", "gw-2", PHONE, "CEK")
    # no gateway id: the sender and text stand in, so a redelivery is still one message
    assert inbound.message_id("sms_http", None, PHONE, "CEK") == inbound.message_id("sms_http", None, PHONE, "CEK")
    assert inbound.message_id("sms_http", None, PHONE, "CEK") != inbound.message_id("sms_http", None, PHONE, "CEK 2")


def test_the_phone_key_is_an_hmac_never_the_number() -> None:
    key = inbound.phone_key("secret", PHONE)
    assert len(key) == 32 and "81234567890" not in key and key == inbound.phone_key("secret", PHONE)
    assert key != inbound.phone_key("other", PHONE) and key != inbound.phone_key("secret", "+6281234567891")


def test_text_is_trimmed_to_480_characters() -> None:
    assert inbound.published_text("  CEK 1 2 \n") == "CEK 1 2"
    assert len(inbound.published_text("x" * 1000)) == inbound.MAX_TEXT == 480


def test_the_flood_limit() -> None:
    limit = inbound.InboundLimit(per_window=20)
    assert inbound.within_limit(19, limit) and not inbound.within_limit(20, limit)
    assert inbound.within_limit(10_000, inbound.InboundLimit(per_window=0))


# --- replies --------------------------------------------------------------------------------------------------------


def answer(kind: str, **extra: Any) -> InboundMessageAnswered:
    return InboundMessageAnswered(message_id=uuid.uuid4(), channel="sms", phone=PHONE, kind=kind, **extra)  # type: ignore[arg-type]


LONGEST = date(2026, 9, 30)
LONGEST_REASON = max(reasons.REASONS, key=lambda code: len(reasons.fix_text(code)))
STATUSES = [
    SelfCheckStatus(state="in_process"),
    SelfCheckStatus(state="verified"),
    SelfCheckStatus(state="waitlisted", waitlist_position=12345),
    SelfCheckStatus(state="covered", membership_number="12345678901", covered_since=LONGEST),
    SelfCheckStatus(state="not_eligible", reason_codes=(LONGEST_REASON, "NIK_INVALID", "LETTER_MISSING")),
    SelfCheckStatus(
        state="ended",
        membership_number="12345678901",
        covered_since=LONGEST,
        covered_until=LONGEST,
        reason_codes=("contributions_unpaid",),
    ),
]
WITH_OBJECTION = [
    s.model_copy(update={"objection_id": uuid.uuid4(), "objection_state": "in_review", "objection_due_by": LONGEST})
    for s in STATUSES
    if s.state in ("not_eligible", "ended")
]


def reply(a: InboundMessageAnswered) -> str:
    template, variables = replies.answer_template(a)
    return messages.render(template, replytexts.TEMPLATE_VERSIONS[template], variables)


def assert_two_sms(text: str) -> None:
    assert messages.gsm7_length(text) is not None, "not GSM-7: an SMS would take UCS-2 and three times the parts"
    assert messages.sms_segments(text) <= 2, (messages.gsm7_length(text), text)


@pytest.mark.parametrize("status", STATUSES + WITH_OBJECTION, ids=lambda s: s.state)
def test_every_status_reply_fits_two_sms_and_says_the_state(status: SelfCheckStatus) -> None:
    text = reply(answer("status", status=status))
    assert_two_sms(text)
    expected = {
        "in_process": "diproses",
        "verified": "lolos verifikasi",
        "waitlisted": "urutan ke-12345",
        "covered": "KPJ 12345678901",
        "not_eligible": reasons.fix_text(LONGEST_REASON),
        "ended": "iuran tertunggak",
    }[status.state]
    assert expected in text
    if status.state == "covered":
        assert "30 September 2026" in text
    if status.objection_id:
        assert "sedang diperiksa" in text


@pytest.mark.parametrize("kind", ["no_match", "limited", "lead_received", "help"])
def test_every_other_reply_kind_fits_two_sms(kind: str) -> None:
    assert_two_sms(reply(answer(kind)))


@pytest.mark.parametrize("topic", [None, "CEK", "SANGGAH", "DAFTAR", "cek", "XYZ"])
def test_help_tells_how_to_write_each_keyword(topic: str | None) -> None:
    text = reply(answer("help", help_topic=topic))
    assert_two_sms(text)
    assert ("CEK <NIK>" in text) or ("SANGGAH <NIK>" in text) or ("DAFTAR <nama>" in text)


def test_no_match_says_nothing_about_whether_the_nik_exists() -> None:
    text = reply(answer("no_match")).lower()
    for revealing in ("tidak terdaftar", "tidak ditemukan", "tidak ada", "salah", "benar", "nik anda"):
        assert revealing not in text
    # a status answer that lost its status falls back to the same text, never a guess
    assert reply(answer("status")) == reply(answer("no_match"))


def test_objection_received_reply_names_the_objection_and_its_deadline() -> None:
    objection_id = uuid.uuid4()
    text = reply(answer("objection_received", objection_id=objection_id, due_by=LONGEST))
    assert objection_id.hex[:8].upper() in text and "30 September 2026" in text
    assert_two_sms(text)


# --- objections -----------------------------------------------------------------------------------------------------

NOW = datetime(2026, 9, 1, tzinfo=UTC)


def filed() -> ObjectionFiled:
    return ObjectionFiled(
        objection_id=uuid.uuid4(), nomination_id=uuid.uuid4(), ground="rejected", filed_by="beneficiary",
        channel="sms", reason_code="data_corrected", filed_at=NOW, due_by=LONGEST,
        full_name="Siti Aminah binti Abdullah", phone="081234567890", desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def reviewed(state: str, ground: str = "rejected", note: str = "KK sudah diperbaiki Dukcapil") -> ObjectionReviewed:
    return ObjectionReviewed(
        objection_id=uuid.uuid4(), nomination_id=uuid.uuid4(), state=state, ground=ground,  # type: ignore[arg-type]
        reason_code="data_corrected", note=note, filed_at=NOW, reviewed_at=NOW, full_name="Siti Aminah",
        phone="081234567890", desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def rendered(planned: Any) -> str:
    return messages.render(planned.template, planned.template_version, planned.variables)


def test_a_filed_objection_is_told_to_the_person_and_the_nominator() -> None:
    payload = filed()
    person, official = replies.objection_planned(uuid.uuid4(), payload, ChannelPolicy())
    assert (person.purpose, person.recipient_role, official.recipient_role) == (
        "objection_received", "beneficiary", "nominator"
    )  # fmt: skip
    assert person.route is not None and person.route.address == PHONE
    assert official.route is not None and official.route.address == "+6281298765432"
    for planned in (person, official):
        text = rendered(planned)
        assert payload.objection_id.hex[:8].upper() in text and "30 September 2026" in text
        assert_two_sms(text)
    assert "Siti Aminah" in rendered(official) and "Siti" not in rendered(person)


def test_an_objection_in_review_tells_nobody() -> None:
    assert replies.objection_planned(uuid.uuid4(), reviewed("in_review"), ChannelPolicy()) == []


@pytest.mark.parametrize(
    ("state", "ground", "says"),
    [
        ("upheld", "rejected", "diperiksa ulang"),
        ("upheld", "ended", "dipulihkan"),
        ("dismissed", "rejected", "Ombudsman RI 137"),
        ("dismissed", "ended", "final di tingkat kabupaten"),
    ],
)
def test_a_decided_objection_tells_the_outcome_the_note_and_what_next(state: str, ground: str, says: str) -> None:
    person, official = replies.objection_planned(uuid.uuid4(), reviewed(state, ground), ChannelPolicy())
    for planned in (person, official):
        text = rendered(planned)
        assert planned.purpose == "objection_decided"
        assert says in text and "KK sudah diperbaiki Dukcapil" in text
        assert ("DITERIMA" if state == "upheld" else "DITOLAK") in text
        assert_two_sms(text)


def test_a_long_note_is_told_whole_on_whatsapp_and_the_sms_stays_gsm7() -> None:
    note = "Catatan panjang " * 40
    person, _ = replies.objection_planned(uuid.uuid4(), reviewed("dismissed", note=note), ChannelPolicy())
    assert " ".join(note.split()) in rendered(person)


# --- leads ----------------------------------------------------------------------------------------------------------


def lead() -> LeadReceived:
    return LeadReceived(
        lead_id=uuid.uuid4(), desa_code=DESA, full_name="Budi  Santoso", phone="+6281311112222", occupation="nelayan",
        channel="sms", received_at=NOW,
    )  # fmt: skip


def test_a_lead_notice_names_the_worker_phone_occupation_and_desa() -> None:
    variables = replies.lead_variables(lead(), REGIONS)
    text = messages.render(replytexts.LEAD, 1, variables)
    assert "Budi Santoso" in text and "+6281311112222" in text and "Nelayan" in text
    assert variables["village"] in text and messages.sms_segments(text) <= 2


def test_a_desa_without_officials_falls_back_to_its_regencys_disnaker() -> None:
    contact = replies.disnaker_contact(lead(), {"64.08": "+628115550001"}, REGIONS)
    assert contact is not None and (contact.type, contact.phone, contact.region_code) == (
        "disnaker", "+628115550001", "64.08"
    )  # fmt: skip
    by_mail = replies.disnaker_contact(lead(), {"64.08": "disnaker@kutaitimur.go.id"}, REGIONS)
    assert by_mail is not None and by_mail.email == "disnaker@kutaitimur.go.id" and by_mail.phone is None
    assert replies.disnaker_contact(lead(), {"64.09": "+628115550001"}, REGIONS) is None


def test_lead_delivery_ids_are_stable_per_lead_and_official() -> None:
    lead_id = uuid.uuid4()
    assert replies.lead_delivery_id(lead_id, "a") == replies.lead_delivery_id(lead_id, "a")
    assert replies.lead_delivery_id(lead_id, "a") != replies.lead_delivery_id(lead_id, "b")


# --- no events for what is not about a nomination -------------------------------------------------------------------


def delivery(purpose: str) -> Delivery:
    return Delivery(
        id=uuid.uuid4(), event_id=uuid.uuid4(), nomination_id=uuid.uuid4(), person_key="k" * 32, purpose=purpose,
        recipient_role="beneficiary", channel="sms_http", address=PHONE, body="x", attempts=1, last_error="x",
    )  # fmt: skip


def test_replies_and_lead_notices_emit_no_notification_events_objection_messages_do() -> None:
    sent = [delivery(p) for p in (replytexts.REPLY, replytexts.LEAD, "objection_received", "objection_decided")]
    events = outcome_events(sent, sent)
    assert sorted((e.event_type, e.payload.purpose) for e in events) == [
        ("NotificationFailed", "objection_decided"), ("NotificationFailed", "objection_received"),
        ("NotificationSent", "objection_decided"), ("NotificationSent", "objection_received"),
    ]  # fmt: skip


def test_disnaker_contacts_and_the_inbound_secret_come_from_the_settings() -> None:
    from pydantic import SecretStr

    from services.notification.settings import NotificationSettings

    settings = NotificationSettings(
        database_url="postgresql://unused/db",
        kafka_bootstrap="127.0.0.1:1",
        disnaker_contacts=" 64.08=+628115550001, 64.09 = disnaker@ppu.go.id,broken,=x,64.03=",
        webhook_secret="hook",  # type: ignore[arg-type]
    )
    assert settings.disnaker_contact_of == {"64.08": "+628115550001", "64.09": "disnaker@ppu.go.id"}
    assert settings.inbound_secret == "hook"
    assert settings.model_copy(update={"inbound_key_secret": SecretStr("own")}).inbound_secret == "own"


@pytest.mark.parametrize(("channel", "webhook"), [("sms", "sms_http"), ("whatsapp", "whatsapp")])
def test_the_gateway_test_server_posts_what_the_webhook_parser_reads(channel: str, webhook: str) -> None:
    from simulators.sms_gateway import inbound_body

    text = "CEK 6408014708800001 07-08-1980"
    body = inbound_body(channel, "sim-in-1", PHONE, text, NOW)
    sender = PHONE.lstrip("+") if channel == "whatsapp" else PHONE  # WhatsApp gives the number without the +
    assert receipts.parse(webhook, body) == ([], [receipts.Inbound(sender, text, "sim-in-1")])
