"""Notification rules: addresses, channel choice, planning, reason catalogue, retry delays, settings."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from pydantic import ValidationError

from services.notification.domain import addresses, dispatch, plan, routes, texts
from services.notification.domain.routes import ChannelPolicy, Route
from services.notification.errors import InvalidAddress
from services.notification.settings import NotificationSettings
from shared import reasons
from shared.contracts import EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected, Nominator, Reason
from shared.regions import default_regions

REGIONS = default_regions()
DESA = "64.01.01.2009"  # Samurangau, a desa (2xxx)


def nominator(phone: str | None = None, email: str | None = None) -> Nominator:
    return Nominator(type="rt", name="Pak RT", region_code=DESA, phone=phone, email=email)


def confirmed(phone: str = "081234567890") -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(),
        membership_number="12345678901",
        funding_source="APBD Kab. Kutai Timur",
        funding_source_name="APBD Kab. Kutai Timur",
        programme_year=2026,
        coverage_start=date(2026, 12, 1),
        full_name="Siti Aminah",
        phone=phone,
        desa_code=DESA,
        nominator=nominator(phone="081298765432"),
    )


def rejected(contact: Nominator, *codes: str) -> IdentityRejected:
    return IdentityRejected(
        nomination_id=uuid.uuid4(),
        reasons=tuple(Reason(code=c, detail="x") for c in codes or ("NAME_MISMATCH",)),
        full_name="Siti Aminah",
        nominator=contact,
        desa_code=DESA,
    )


# --- dates and addresses --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (date(2026, 12, 1), "1 Desember 2026"),
        (date(2027, 1, 31), "31 Januari 2027"),
        (date(2026, 2, 9), "9 Februari 2026"),
        (date(2026, 8, 17), "17 Agustus 2026"),
    ],
)
def test_dates_are_written_in_indonesian(value: date, text: str) -> None:
    assert texts.format_date_id(value) == text


def test_every_month_has_its_indonesian_name() -> None:
    names = [texts.format_date_id(date(2026, m, 1)).split()[1] for m in range(1, 13)]
    assert names[4] == "Mei" and names[9] == "Oktober" and len(set(names)) == 12


@pytest.mark.parametrize("raw", ["081234567890", "+6281234567890", "+62 812-3456-7890", "6281234567890"])
def test_mobile_numbers_are_normalised_to_e164(raw: str) -> None:
    assert addresses.normalise_phone(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", ["12345", "not a number", "+62", "0812"])
def test_invalid_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidAddress, match="invalid phone number"):
        addresses.normalise_phone(raw)


def test_a_landline_is_not_a_mobile_number() -> None:
    with pytest.raises(InvalidAddress, match="not a mobile"):
        addresses.normalise_phone("0215551234")  # Jakarta fixed line: cannot receive SMS


def test_emails_are_checked_for_shape() -> None:
    assert addresses.normalise_email(" rt05@desa.id ") == "rt05@desa.id"
    for bad in ("rt05", "rt05@desa", "a@b@c.id", "rt 05@desa.id"):
        with pytest.raises(InvalidAddress, match="invalid email"):
            addresses.normalise_email(bad)


def test_addresses_are_masked_for_operators() -> None:
    assert addresses.mask_address("+6281234567890") == "+62812****890"
    assert addresses.mask_address("budi@desa.id") == "b***@desa.id"
    assert addresses.mask_address("+62812") == "******"
    assert addresses.mask_address(None) is None


# --- channel choice -------------------------------------------------------------------------------------------------


def test_beneficiary_gets_the_beneficiary_channel_with_a_normalised_phone() -> None:
    assert routes.beneficiary_route("0812 3456 7890", ChannelPolicy()) == Route("local", "+6281234567890")
    sms = ChannelPolicy(beneficiary="sms_http")
    assert routes.beneficiary_route("081234567890", sms) == Route("sms_http", "+6281234567890")


def test_beneficiary_with_a_bad_phone_fails_on_the_channel_it_would_have_taken() -> None:
    with pytest.raises(InvalidAddress) as caught:
        routes.beneficiary_route("0812", ChannelPolicy(beneficiary="sms_http"))
    assert (caught.value.cause, caught.value.channel) == ("invalid phone number", "sms_http")
    with pytest.raises(InvalidAddress, match="no contact"):
        routes.beneficiary_route("  ", ChannelPolicy())


@pytest.mark.parametrize(
    ("policy", "contact", "route"),
    [
        # email when SMTP is configured
        (ChannelPolicy(beneficiary="sms_http", smtp_configured=True), nominator("081298765432", "rt@desa.id"),
         Route("email_smtp", "rt@desa.id")),
        # no SMTP: the phone on the beneficiary channel
        (ChannelPolicy(beneficiary="sms_http"), nominator("081298765432", "rt@desa.id"),
         Route("sms_http", "+6281298765432")),
        (ChannelPolicy(), nominator("081298765432", "rt@desa.id"), Route("local", "+6281298765432")),
        # SMTP configured but no email: the phone
        (ChannelPolicy(beneficiary="sms_http", smtp_configured=True), nominator("081298765432"),
         Route("sms_http", "+6281298765432")),
        # a bad phone falls back to the email
        (ChannelPolicy(smtp_configured=True), nominator("0812", "rt@desa.id"), Route("email_smtp", "rt@desa.id")),
        # the local demo channel records an email when that is all there is
        (ChannelPolicy(), nominator(email="rt@desa.id"), Route("local", "rt@desa.id")),
        # an explicit choice wins over the default
        (ChannelPolicy(beneficiary="sms_http", nominator="local", smtp_configured=True),
         nominator("081298765432", "rt@desa.id"), Route("local", "+6281298765432")),
        (ChannelPolicy(nominator="email_smtp"), nominator("081298765432", "rt@desa.id"),
         Route("email_smtp", "rt@desa.id")),
    ],
)  # fmt: skip
def test_nominator_channel_choice(policy: ChannelPolicy, contact: Nominator, route: Route) -> None:
    assert routes.nominator_route(contact, policy) == route


@pytest.mark.parametrize(
    ("policy", "contact", "cause", "channel"),
    [
        (ChannelPolicy(), nominator(), "no contact", None),
        # email only, but SMTP is not configured and SMS cannot carry an email
        (ChannelPolicy(beneficiary="sms_http"), nominator(email="rt@desa.id"), "no contact", None),
        (ChannelPolicy(beneficiary="sms_http"), nominator(phone="0812"), "invalid phone number", "sms_http"),
        (ChannelPolicy(smtp_configured=True), nominator(email="rt@desa"), "invalid email address", "email_smtp"),
    ],
)
def test_nominator_without_a_usable_contact(
    policy: ChannelPolicy, contact: Nominator, cause: str, channel: str | None
) -> None:
    with pytest.raises(InvalidAddress) as caught:
        routes.nominator_route(contact, policy)
    assert (caught.value.cause, caught.value.channel) == (cause, channel)


# --- planning -------------------------------------------------------------------------------------------------------


def test_confirmed_enrolment_tells_the_beneficiary() -> None:
    event_id, payload = uuid.uuid4(), confirmed()
    [planned] = plan.plan(event_id, payload, ChannelPolicy(beneficiary="sms_http"), REGIONS)
    assert (planned.purpose, planned.recipient_role, planned.template) == (
        "enrolment_confirmed", "beneficiary", "enrolment_confirmed"
    )  # fmt: skip
    assert planned.route == Route("sms_http", "+6281234567890") and planned.failure is None
    assert planned.variables["membership_number"] == "12345678901"
    assert planned.variables["coverage_start"] == date(2026, 12, 1)
    assert planned.template_version == texts.TEMPLATE_VERSIONS["enrolment_confirmed"]


def test_waitlisted_enrolment_tells_the_beneficiary_their_position() -> None:
    payload = EnrolmentWaitlisted(
        nomination_id=uuid.uuid4(),
        programme_year=2026,
        position=37,
        full_name="Siti",
        phone="081234567890",
        desa_code=DESA,
        nominator=nominator(),
    )
    [planned] = plan.plan(uuid.uuid4(), payload, ChannelPolicy(), REGIONS)
    assert (planned.purpose, planned.recipient_role) == ("enrolment_waitlisted", "beneficiary")
    assert planned.variables == {"position": 37, "programme_year": 2026}


def test_rejection_tells_the_nominator_with_explained_reasons() -> None:
    payload = rejected(nominator(phone="081298765432"), "NAME_MISMATCH", "DECEASED")
    [planned] = plan.plan(uuid.uuid4(), payload, ChannelPolicy(), REGIONS)
    assert (planned.purpose, planned.recipient_role) == ("identity_rejected", "nominator")
    assert planned.route == Route("local", "+6281298765432")
    assert [r["code"] for r in planned.variables["reasons"]] == ["NAME_MISMATCH", "DECEASED"]
    assert planned.variables["village"] == "Desa Samurangau"
    assert planned.variables["reference"] == payload.nomination_id.hex[:8].upper()


def test_rejection_of_a_nomination_whose_nominator_has_no_contact_fails_at_once() -> None:
    [planned] = plan.plan(uuid.uuid4(), rejected(nominator()), ChannelPolicy(), REGIONS)
    assert planned.route is None
    assert (planned.failure, planned.intended_channel) == ("no contact", None)


def test_a_bad_beneficiary_phone_fails_with_its_cause_and_the_nominator_is_told() -> None:
    payload = confirmed(phone="0812")
    planned, note = plan.plan(uuid.uuid4(), payload, ChannelPolicy(beneficiary="sms_http"), REGIONS)
    assert (planned.failure, planned.intended_channel) == ("invalid phone number", "sms_http")
    # The nominator hears of it (under the same purpose), so that the number gets corrected.
    assert (note.purpose, note.recipient_role, note.template) == ("enrolment_confirmed", "nominator", "contact_invalid")
    assert note.failure is None and note.route == Route("sms_http", "+6281298765432")
    assert note.variables["reference"] == payload.nomination_id.hex[:8].upper()


def test_delivery_ids_are_stable_per_event_recipient_and_purpose() -> None:
    event_id = uuid.uuid4()
    first = plan.plan(event_id, confirmed(), ChannelPolicy(), REGIONS)[0].delivery_id
    assert plan.plan(event_id, confirmed(), ChannelPolicy(), REGIONS)[0].delivery_id == first
    assert plan.delivery_id(event_id, "nominator", "enrolment_confirmed") != first
    assert plan.plan(uuid.uuid4(), confirmed(), ChannelPolicy(), REGIONS)[0].delivery_id != first


def test_only_the_three_outcomes_are_notified() -> None:
    from shared.contracts import NotificationSent

    other = NotificationSent(
        nomination_id=uuid.uuid4(), delivery_id=uuid.uuid4(), purpose="enrolment_confirmed",
        recipient_role="beneficiary", channel="local",
    )  # fmt: skip
    with pytest.raises(TypeError):
        plan.plan(uuid.uuid4(), other, ChannelPolicy(), REGIONS)


# --- reasons and villages -------------------------------------------------------------------------------------------

CATALOGUE = tuple(reasons.REASONS)


def test_every_catalogued_reason_has_its_own_explanation_from_the_shared_catalogue() -> None:
    assert set(texts.REASON_EXPLANATIONS) == set(CATALOGUE)
    assert texts.explain_reasons(["NIK_INVALID"])[0]["explanation"] == reasons.fix_text("NIK_INVALID")
    explanations = [texts.explain_reasons([code])[0]["explanation"] for code in CATALOGUE]
    assert len(set(explanations)) == len(CATALOGUE)
    assert texts.GENERIC_EXPLANATION not in explanations


def test_unknown_reasons_get_the_generic_explanation_and_repeats_are_told_once() -> None:
    explained = texts.explain_reasons(["SOMETHING_NEW", "NIK_INVALID", "SOMETHING_NEW"])
    assert [r["code"] for r in explained] == ["SOMETHING_NEW", "NIK_INVALID"]
    assert explained[0]["explanation"] == texts.GENERIC_EXPLANATION


def test_village_names() -> None:
    kelurahan = next(r for r in REGIONS.by_level("desa_kelurahan") if r.code.rsplit(".", 1)[1].startswith("1"))
    assert texts.village_name(kelurahan.code, REGIONS) == f"Kelurahan {kelurahan.name}"
    assert texts.village_name(DESA, REGIONS) == "Desa Samurangau"
    assert texts.village_name("64.99.99.2999", REGIONS) == "64.99.99.2999"


# --- retries --------------------------------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = dispatch.RetryPolicy(max_attempts=10, initial_s=5, max_s=60, jitter_s=2)
    assert [dispatch.retry_delay(n, policy, 0.0) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert dispatch.retry_delay(1, policy, 0.5) == 6.0


def test_retry_after_wins_and_is_capped() -> None:
    policy = dispatch.RetryPolicy(max_attempts=5, initial_s=5, max_s=600, jitter_s=2)
    assert dispatch.retry_delay(1, policy, 0.9, retry_after_s=120) == 120
    assert dispatch.retry_delay(1, policy, 0.9, retry_after_s=86_400) == 600


def test_no_retry_once_the_attempts_are_spent() -> None:
    policy = dispatch.RetryPolicy(max_attempts=3)
    assert dispatch.retry_delay(2, policy, 0.0) is not None
    assert dispatch.retry_delay(3, policy, 0.0) is None
    assert dispatch.retry_delay(3, policy, 0.0, retry_after_s=1) is None


# --- settings -------------------------------------------------------------------------------------------------------

BASE = {"database_url": "postgresql://u@h/db", "kafka_bootstrap": "h:9092"}


@pytest.fixture(autouse=True)
def _no_payung_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings tests see only the fields they pass, not the developer's PAYUNG_* variables."""
    import os

    for name in [n for n in os.environ if n.startswith("PAYUNG_")]:
        monkeypatch.delenv(name)


def test_default_channels_are_local_and_the_port_is_8004() -> None:
    settings = NotificationSettings(**BASE)
    assert settings.http_port == 8004
    assert settings.resolved_beneficiary_channel == "local" and settings.nominator_channel is None
    assert settings.local_outbox_file.parts[-3:] == (".stack", "local", "messages.jsonl")


def test_sms_becomes_the_beneficiary_channel_once_the_gateway_is_configured() -> None:
    settings = NotificationSettings(**BASE, sms_gateway_url="https://sms.example/send", sms_gateway_token="t")
    assert settings.resolved_beneficiary_channel == "sms_http" and not settings.local_channel_used
    assert NotificationSettings(**BASE).local_channel_used
    assert NotificationSettings(**BASE, beneficiary_channel="local", sms_gateway_url="u", sms_gateway_token="t")


@pytest.mark.parametrize(
    "fields",
    [
        {"sms_sender_id": "PAYUNGKALTIM1"},  # 13 characters: longer than an alphanumeric sender id may be
        {"sms_sender_id": "PAYUNG!"},
        {"beneficiary_channel": "sms_http"},  # no gateway configured
        {"nominator_channel": "email_smtp"},  # no SMTP configured
        {"sending_lease_s": 30},  # shorter than a round can take
    ],
)
def test_settings_refuse_what_cannot_work(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NotificationSettings(**BASE, **fields)
