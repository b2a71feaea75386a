"""Rendering messages from the Jinja2 templates in ``templates/``, and SMS sizing.

Each template version has a short form ``<template>.v<version>.txt.j2`` (what SMS and the local demo channel carry:
one SMS for beneficiaries) and may have a long form ``<template>.v<version>.long.txt.j2`` (WhatsApp and email; the
short form stands in when there is none). WhatsApp sends an approved template by name with its body parameters:
``whatsapp_parameters`` gives them, in the order the approved template numbers them ({{1}}, {{2}}, ...).

Rendering is pure: the same template, version and variables always give the same text. Templates are plain text
(no HTML escaping); undefined variables are errors, so a template and the domain cannot silently drift apart.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import jinja2

from services.notification.domain import replytexts
from services.notification.domain.routes import Route, template_form
from services.notification.domain.texts import format_date_id

TEMPLATES_DIR = Path(__file__).parent.parent / "templates"
SMS_SEGMENT = 160  # GSM-7 characters in one single-part SMS

# GSM 03.38 default alphabet, and the extension table whose characters take two septets (ESC + char).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - plain-text SMS and email bodies, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["tanggal"] = format_date_id
    return env


Form = Literal["short", "long"]


def template_file(template: str, version: int, form: Form = "short") -> str:
    return f"{template}.v{version}.long.txt.j2" if form == "long" else f"{template}.v{version}.txt.j2"


def render(template: str, version: int, variables: dict[str, Any], form: Form = "short") -> str:
    """The message text, stripped of surrounding blank space (the long form falls back to the short one)."""
    names = [template_file(template, version, form), template_file(template, version)]
    return _environment().select_template(names).render(**variables).strip()


# Body parameters of each approved WhatsApp template, in order ({{1}}, {{2}}, ...).
WHATSAPP_PARAMETERS: dict[str, tuple[str, ...]] = {
    "enrolment_confirmed": ("coverage_start", "funding_source", "membership_number", "jkm_benefit", "call_centre"),
    "enrolment_promoted": ("coverage_start", "funding_source", "membership_number", "jkm_benefit", "call_centre"),
    "enrolment_waitlisted": ("programme_year", "position"),
    "identity_rejected": ("full_name", "reference", "village", "reasons"),
    "enrolment_ended": ("membership_number", "coverage_end", "reason", "call_centre"),
    "death_benefit_information": ("full_name", "membership_number", "jkm_benefit", "call_centre"),
    "enrolment_refused": ("full_name", "reference", "village", "refusal_reason", "refusal_code"),
    "contact_invalid": ("full_name", "reference", "village", "subject"),
    "daily_digest": ("village", "day", "enrolled", "waitlisted", "rejected_count", "rejected_refs"),
    # approved with a DOCUMENT header: the card (adapters/whatsapp.py uploads it and names the media)
    "membership_card": ("membership_number", "coverage_start", "call_centre"),
    "claim_reminder": ("membership_number", "jkm_benefit", "call_centre"),
    "quota_shortfall": ("funding_source", "programme_year", "seats_left", "unspent", "categories"),
    **replytexts.WHATSAPP_PARAMETERS,
}


def whatsapp_parameters(template: str, variables: dict[str, Any]) -> list[str]:
    """The template's body parameters as WhatsApp wants them: text without newlines (dates in Indonesian)."""
    return [_parameter(variables[name]) for name in WHATSAPP_PARAMETERS[template]]


def _parameter(value: Any) -> str:
    if isinstance(value, date):
        return format_date_id(value)
    if isinstance(value, list):  # reasons: each explanation, one after the other
        return " ".join(item["explanation"] if isinstance(item, dict) else str(item) for item in value)
    return " ".join(str(value).split())


def whatsapp_template_name(prefix: str, template: str, version: int) -> str:
    return f"{prefix}{template}_v{version}"


def gsm7_length(text: str) -> int | None:
    """Septets ``text`` takes in the GSM-7 alphabet, or None when it needs UCS-2 (70 characters per SMS)."""
    length = 0
    for char in text:
        if char in _GSM7_BASIC:
            length += 1
        elif char in _GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def fits_one_sms(text: str) -> bool:
    length = gsm7_length(text)
    return length is not None and length <= SMS_SEGMENT


def sms_segments(text: str) -> int:
    """How many SMS ``text`` takes: 160 / 153 septets per part in GSM-7, 70 / 67 UCS-2 characters otherwise."""
    length = gsm7_length(text)
    if length is None:
        units, single, multi = len(text.encode("utf-16-le")) // 2, 70, 67
    else:
        units, single, multi = length, SMS_SEGMENT, 153
    return 1 if units <= single else math.ceil(units / multi)


def rendered_route(
    template: str, version: int, variables: dict[str, Any], route: Route, whatsapp_prefix: str
) -> dict[str, Any]:
    """A route with the text it carries: one SMS on SMS, the full text elsewhere, template + parameters on WhatsApp."""
    rendered: dict[str, Any] = {
        "channel": route.channel,
        "address": route.address,
        "body": render(template, version, variables, template_form(route.channel)),
    }
    if route.channel == "whatsapp":
        rendered["whatsapp_template"] = whatsapp_template_name(whatsapp_prefix, template, version)
        rendered["params"] = whatsapp_parameters(template, variables)
    if "card" in variables:  # what the dispatcher renders into the attached card (handlers/dispatch.py)
        rendered["card"] = variables["card"]
    return rendered
