"""The formats every service and tool agrees on, defined once: NIK, phone number, e-mail, occupation, purpose.

Each rule raises ``InvalidFormat`` with a reason that never repeats the value (the reason goes into HTTP 422
answers, dead letters and logs). Services decide what a failure means to them (the nomination API answers 422,
verification records a finding, notification reports the address unusable); the rule itself is the same.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

import phonenumbers
from stdnum.id import nik as stdnum_nik

# Kalimantan Timur's clock (WITA, UTC+8, no daylight saving): a date a person or an official writes (a letter dated
# today, a birth date) is judged against the local day, not the server's UTC one (from 16:00 UTC they differ).
WITA: Final = ZoneInfo("Asia/Makassar")


def local_today() -> date:
    """Today in Kalimantan Timur."""
    return datetime.now(WITA).date()


class InvalidFormat(ValueError):
    """A value that breaks a format rule; ``str(exc)`` is the reason, without the value."""


class NotAMobileNumber(InvalidFormat):
    """A valid phone number that is no mobile (a landline): the one phone failure an official can act on as such."""


# --- NIK (Nomor Induk Kependudukan) -------------------------------------------------------------------------------
NIK_LENGTH: Final = 16


def nik(value: str) -> str:
    """16 ASCII digits whose DDMMYY part is a real birth date (day + 40 for women). The place part (province and
    regency) is checked against the region lists by the caller (``shared.regions.nik_place``)."""
    if not (len(value) == NIK_LENGTH and value.isascii() and value.isdigit()):
        raise InvalidFormat("must be exactly 16 digits")
    if not nik_date_valid(value[6:12]):
        raise InvalidFormat("not a valid NIK: impossible birth date")
    return value


@lru_cache(maxsize=100_000)
def nik_date_valid(ddmmyy: str) -> bool:
    """The DDMMYY part of a NIK is a date: day 01-31 for men, 41-71 for women (day + 40), then a real date.

    The day range is checked here first: python-stdnum reads the day modulo 40, so it takes day 99 for the 19th
    (the fault suite's "bad NIK" with day 99 was accepted, and then not found at the civil registry). stdnum
    validates the date and the place part together; the place part given here is a fixed known one, so only the
    date decides (the place is checked against the national list, newer than stdnum's).
    """
    if not (ddmmyy[:2].isdigit() and (1 <= int(ddmmyy[:2]) <= 31 or 41 <= int(ddmmyy[:2]) <= 71)):
        return False
    return bool(stdnum_nik.is_valid(f"640801{ddmmyy}0001"))


# --- Phone numbers ------------------------------------------------------------------------------------------------
_MOBILE_TYPES: Final = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def mobile_number(value: str) -> str:
    """An Indonesian mobile number in E.164 (``0812...``, ``+62 812-...`` -> ``+62812...``), or ``InvalidFormat``.

    Mobiles only: SMS and WhatsApp reach mobiles only, and every number Payung keeps is one it may message.
    """
    try:
        parsed = phonenumbers.parse(value, "ID")
    except phonenumbers.NumberParseException:
        raise InvalidFormat("not a phone number") from None
    if parsed.country_code != 62 or not phonenumbers.is_valid_number(parsed):
        raise InvalidFormat("not a valid Indonesian phone number")
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise NotAMobileNumber("must be a mobile number (SMS and WhatsApp reach mobiles only)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_mobile_number(value: str) -> bool:
    try:
        mobile_number(value)
    except InvalidFormat:
        return False
    return True


# --- E-mail ---------------------------------------------------------------------------------------------------------
# Plausible, not RFC 5322: one @, no spaces, brackets, quotes or separators a mail header would split on, and a
# top-level domain of two letters or more. The mail server has the last word.
_EMAIL_CHARS = r"""[^@\s<>()\[\]\\,;:"']"""
EMAIL_PATTERN: Final = rf"^{_EMAIL_CHARS}+@{_EMAIL_CHARS}+\.[^@\s<>()\[\]\\,;:\"'.]{{2,}}$"
_EMAIL: Final = re.compile(EMAIL_PATTERN)
EMAIL_MAX_LENGTH: Final = 200


def email(value: str) -> str:
    """A syntactically plausible e-mail address, stripped, or ``InvalidFormat``."""
    stripped = value.strip()
    if len(stripped) > EMAIL_MAX_LENGTH or not _EMAIL.match(stripped):
        raise InvalidFormat("not a valid e-mail address")
    return stripped


# --- Occupations ----------------------------------------------------------------------------------------------------
# The programme's informal-worker categories (codes of the nomination form and the spreadsheets, Bahasa labels).
OCCUPATIONS: Final[dict[str, str]] = {
    "petani_pekebun": "Petani / pekebun",
    "buruh_tani": "Buruh tani / perkebunan",
    "nelayan": "Nelayan",
    "buruh_nelayan": "Buruh nelayan",
    "ojek": "Ojek / ojek online",
    "sopir": "Sopir",
    "pedagang_kecil": "Pedagang kecil / keliling / kaki lima",
    "buruh_harian_lepas": "Buruh harian lepas",
    "pengrajin": "Pengrajin",
    "umkm": "Pelaku UMKM",
    "buruh_sawit": "Buruh sawit non-perusahaan",
    "parkir": "Juru parkir",
    "buruh_pelabuhan": "Buruh pelabuhan",
    "pemuka_agama": "Marbot / guru ngaji / pendeta",
    "penjaga_warung": "Penjaga warung",
    "lainnya": "Pekerja informal lainnya",
}
OCCUPATION_CODES: Final = frozenset(OCCUPATIONS)


def occupation(value: str) -> str:
    if value not in OCCUPATIONS:
        raise InvalidFormat("not one of the programme's occupation codes")
    return value


# --- Notification purposes ------------------------------------------------------------------------------------------
# What a message to a person is about (NotificationSent/NotificationFailed carry it; templates are named by it).
Purpose = Literal[
    "enrolment_confirmed",
    "enrolment_waitlisted",
    "enrolment_promoted",
    "identity_rejected",
    "enrolment_ended",
    "death_benefit_information",
    "enrolment_refused",
    # issue 15 (docs/outreach.md): the membership card, how to claim (at cover start and yearly), objections
    "membership_card",
    "claim_reminder",
    "objection_received",
    "objection_decided",
]
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)
