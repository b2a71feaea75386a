"""Rendering messages from the Jinja2 templates in ``templates/`` (``<template>.v<version>.txt.j2``), and SMS sizing.

Rendering is pure: the same template, version and variables always give the same text. Templates are plain text
(no HTML escaping); undefined variables are errors, so a template and the domain cannot silently drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from services.notification.domain import format_date_id

TEMPLATES_DIR = Path(__file__).parent / "templates"
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


def template_file(template: str, version: int) -> str:
    return f"{template}.v{version}.txt.j2"


def render(template: str, version: int, variables: dict[str, Any]) -> str:
    """The message text, stripped of surrounding blank space."""
    return _environment().get_template(template_file(template, version)).render(**variables).strip()


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
