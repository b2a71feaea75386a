"""Claim reminders (anniversaries incl. 29 February and the year end, ended members, restored seats) and the
quota-shortfall message (admin routes, rupiah, texts) of the notification service."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.notification.domain import claims, messages, shortfall
from services.notification.domain.routes import ChannelPolicy, Route
from shared.contracts import DesaShortfall, EnrolmentConfirmed, Nominator, QuotaShortfallForecast
from shared.regions import default_regions

DESA = "64.08.01.2001"
NOMINATOR = Nominator(type="desa", name="Kades", region_code=DESA, phone="081298765432")


def confirmed(restored: uuid.UUID | None = None, promoted: bool = False) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 3, 1),
        full_name="Siti", phone="081234567890", desa_code=DESA, nominator=NOMINATOR,
        promoted_from_waitlist=promoted, restored_by_objection=restored,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("start", "year", "expected"),
    [
        (date(2024, 2, 29), 2025, date(2025, 2, 28)),
        (date(2024, 2, 29), 2028, date(2028, 2, 29)),
        (date(2026, 12, 31), 2027, date(2027, 12, 31)),
        (date(2026, 3, 1), 2027, date(2027, 3, 1)),
    ],
)
def test_anniversaries(start: date, year: int, expected: date) -> None:
    assert claims.anniversary(start, year) == expected


def test_the_yearly_reminder_is_due_on_the_anniversary_once_and_not_in_the_first_year() -> None:
    start = date(2026, 3, 1)
    assert claims.due_anniversary(start, start, None, date(2026, 12, 1)) is None  # the first year: at cover start
    assert claims.due_anniversary(start, start, None, date(2027, 2, 28)) is None  # the day before
    assert claims.due_anniversary(start, start, None, date(2027, 3, 1)) == date(2027, 3, 1)
    assert claims.due_anniversary(start, date(2027, 3, 1), None, date(2027, 3, 2)) is None  # reminded already
    assert claims.due_anniversary(start, start, None, date(2027, 3, 31)) == date(2027, 3, 1)  # caught up late
    assert claims.due_anniversary(start, start, None, date(2027, 4, 1)) is None  # too late: next year's


def test_a_29_february_start_is_reminded_on_28_february_and_across_the_year_end() -> None:
    leap = date(2024, 2, 29)
    assert claims.due_anniversary(leap, leap, None, date(2025, 2, 28)) == date(2025, 2, 28)
    assert claims.due_anniversary(leap, date(2025, 2, 28), None, date(2026, 2, 28)) == date(2026, 2, 28)
    assert claims.due_anniversary(leap, date(2027, 2, 28), None, date(2028, 2, 28)) is None
    assert claims.due_anniversary(leap, date(2027, 2, 28), None, date(2028, 2, 29)) == date(2028, 2, 29)
    year_end = date(2025, 12, 31)
    assert claims.due_anniversary(year_end, year_end, None, date(2027, 1, 10)) == date(2026, 12, 31)
    assert claims.due_anniversary(year_end, year_end, None, date(2026, 12, 31)) == date(2026, 12, 31)


def test_an_ended_member_is_not_reminded() -> None:
    start = date(2026, 3, 1)
    assert claims.due_anniversary(start, start, date(2026, 11, 30), date(2027, 3, 1)) is None
    assert claims.due_anniversary(start, start, date(2027, 3, 1), date(2027, 3, 1)) is None  # ended that day
    assert claims.due_anniversary(start, start, date(2027, 6, 30), date(2027, 3, 1)) == date(2027, 3, 1)


def test_the_cover_start_message_goes_with_a_first_or_promoted_seat_not_a_restored_one() -> None:
    policy = ChannelPolicy()
    planned = claims.cover_start(uuid.uuid4(), confirmed(), policy)
    assert (planned.purpose, planned.recipient_role, planned.failure) == ("claim_reminder", "beneficiary", None)
    assert claims.at_cover_start(confirmed(promoted=True))
    assert not claims.at_cover_start(confirmed(restored=uuid.uuid4()))
    short = messages.render(planned.template, planned.template_version, planned.variables, "short")
    long = messages.render(planned.template, planned.template_version, planned.variables, "long")
    assert messages.fits_one_sms(short), (len(short), short)
    assert "JKK" in long and "JKM" in long and "12345678901" in long and "Pengingat tahunan" not in long
    yearly = claims.variables("12345678901", date(2026, 3, 1), yearly=True)
    assert messages.fits_one_sms(messages.render("claim_reminder", 1, yearly, "short"))
    assert "Pengingat tahunan" in messages.render("claim_reminder", 1, yearly, "long")


def test_reminder_ids_are_stable_per_member_and_anniversary() -> None:
    nid = uuid.uuid4()
    assert claims.reminder_id(nid, date(2027, 3, 1)) == claims.reminder_id(nid, date(2027, 3, 1))
    assert claims.reminder_id(nid, date(2027, 3, 1)) != claims.reminder_id(nid, date(2028, 3, 1))


# ------------------------------------------------------------------------------------------------- shortfall


def forecast() -> QuotaShortfallForecast:
    return QuotaShortfallForecast(
        forecast_id=uuid.uuid4(), funding_source="APBD-KAB", funding_source_name="APBD Kab. Kutai Timur",
        programme_year=2026, as_of=date(2026, 9, 30), quota=15000, enrolled=2655, forecast_enrolled=3300,
        seats_left=11700, unspent_rupiah=2_073_960_000, under_represented=("nelayan", "parkir"),
        desa=(DesaShortfall(desa_code=DESA, nominations=3, eligible_population=900),),
    )  # fmt: skip


def test_admin_contacts_become_routes_and_unusable_ones_are_skipped() -> None:
    policy = ChannelPolicy(beneficiary=("whatsapp", "sms_http"), smtp_configured=True)
    routes = shortfall.admin_routes(("admin@disnaker.example", "0812-3456-7890", "not a contact"), policy)
    assert routes == [
        [Route("email_smtp", "admin@disnaker.example")],
        [Route("whatsapp", "+6281234567890"), Route("sms_http", "+6281234567890")],
    ]


def test_the_shortfall_text_names_seats_rupiah_categories_and_desa_in_bahasa() -> None:
    regions = default_regions()
    admin = shortfall.message_variables(forecast(), regions)
    assert (admin["seats_left"], admin["unspent"], admin["categories"]) == (
        "11.700",
        "Rp2.073.960.000",
        "Nelayan, Juru parkir",
    )
    long = messages.render("quota_shortfall", 1, admin, "long")
    assert "Rp2.073.960.000" in long and "Nelayan" in long and admin["desa"][0] in long
    official = shortfall.message_variables(forecast(), regions, village="Desa Muara Ancalong")
    short = messages.render("quota_shortfall", 1, official, "short")
    assert "11.700" in short and "Desa Muara Ancalong" in short and messages.sms_segments(short) <= 2
    assert shortfall.rupiah(0) == "Rp0"


def test_admin_contacts_in_the_settings_are_checked_without_echoing_them() -> None:
    from pydantic import ValidationError

    from services.notification.settings import NotificationSettings

    base = {"database_url": "postgresql://x@h/d", "kafka_bootstrap": "h:1"}
    ok = NotificationSettings(**base, programme_admin_contacts=" admin@disnaker.example ,081377778888,")
    assert ok.admin_contacts == ("admin@disnaker.example", "081377778888")
    with pytest.raises(ValidationError) as refused:
        NotificationSettings(**base, programme_admin_contacts="admin@disnaker.example, 02134567890secret")
    assert "entry 2 is neither an e-mail address nor a mobile number" in str(refused.value)
