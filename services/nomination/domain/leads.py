"""Leads: a worker who heard of the programme and asks (web form, SMS or WhatsApp ``DAFTAR``) to be nominated.

A lead is not a nomination: it carries no NIK and no letter, only what the desa's officials need to find the person
(desa, name, mobile number, occupation). Pure rules: the fields, the dedup window (the same mobile number in the
same desa within ``LEAD_DEDUP_DAYS`` is the same lead: a repeated SMS never makes a second one), the marks an
official sets.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

from services.nomination.errors import InvalidLead
from shared import formats
from shared.regions import RegionIndex

LEAD_DEDUP_DAYS = 30
NAME_MAX = 120
LeadMark = Literal["contacted", "nominated"]
LEAD_STATES = ("new", "contacted", "nominated")
_NAME_PUNCTUATION = set(" .'-,")


def clean_name(value: str) -> str:
    """A person's name as nominations take it: NFC, spaces collapsed, letters (any script), spaces and . ' - ,
    only, at least one letter. ValueError (pydantic's field error) otherwise."""
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if not value:
        raise ValueError("must not be empty")
    for char in value:
        if char not in _NAME_PUNCTUATION and unicodedata.category(char)[0] not in "LM":
            raise ValueError("may hold letters, spaces and . ' - , only")
    if not any(unicodedata.category(c).startswith("L") for c in value):
        raise ValueError("must contain letters")
    return value


@dataclass(frozen=True)
class ValidLead:
    desa_code: str
    full_name: str
    phone: str  # E.164
    occupation: str


def check_lead(
    desa_code: str, full_name: str, phone: str, occupation: str, regions: RegionIndex, programme_regency: str
) -> ValidLead:
    """The lead's fields, normalised, or ``InvalidLead`` naming the field (never its value)."""
    if not (regions.is_level(desa_code, "desa_kelurahan") and desa_code.startswith(programme_regency + ".")):
        raise InvalidLead("desa_code", "not a desa/kelurahan of the programme's region list")
    if len(full_name) > NAME_MAX * 2:
        raise InvalidLead("full_name", f"at most {NAME_MAX} characters")
    try:
        name = clean_name(full_name)
    except ValueError as exc:
        raise InvalidLead("full_name", str(exc)) from None
    if len(name) > NAME_MAX:
        raise InvalidLead("full_name", f"at most {NAME_MAX} characters")
    if len(phone) > 20:
        raise InvalidLead("phone", "at most 20 characters")
    try:
        mobile = formats.mobile_number(phone)
    except formats.InvalidFormat as exc:
        raise InvalidLead("phone", str(exc)) from None
    if occupation not in formats.OCCUPATION_CODES:
        raise InvalidLead("occupation", "not one of the programme's occupation codes")
    return ValidLead(desa_code=desa_code, full_name=name, phone=mobile, occupation=occupation)
