"""The quota-shortfall message: a funding source will not fill its seats this programme year; programme admins and the
nominators of the desa with the fewest nominations are told the seats left, the unspent rupiah and the worker
categories under-represented (docs/outreach.md). Pure functions only.

Admin contacts come from ``PAYUNG_PROGRAMME_ADMIN_CONTACTS`` (e-mail addresses and/or phone numbers, comma
separated); a desa's nominators are the officials the digests know (``desa_contacts``). Like a digest, the message
is about no nomination and emits no ``NotificationSent``: its delivery id stands in for both.
"""

from __future__ import annotations

import uuid
from typing import Any

from babel.numbers import format_decimal

from services.notification.domain.addresses import normalise_email, normalise_phone
from services.notification.domain.plan import DELIVERY_NAMESPACE
from services.notification.domain.routes import ChannelPolicy, Route
from services.notification.domain.texts import village_name
from services.notification.errors import InvalidAddress
from shared.contracts import QuotaShortfallForecast
from shared.formats import OCCUPATIONS
from shared.regions import RegionIndex

PURPOSE = "quota_shortfall"  # not a contract purpose: it emits no event (as daily_digest)


def rupiah(value: int) -> str:
    """``Rp1.234.567`` (Bahasa Indonesia)."""
    return "Rp" + format_decimal(value, format="#,##0", locale="id_ID")


def admin_routes(contacts: tuple[str, ...], policy: ChannelPolicy) -> list[list[Route]]:
    """Each usable admin contact's routes: an e-mail by SMTP (the local file when SMTP is not configured), a phone
    on the beneficiary channels in order. Unusable entries are skipped (the settings refuse them at start)."""
    out: list[list[Route]] = []
    for raw in contacts:
        try:
            if "@" in raw:
                out.append([Route("email_smtp" if policy.smtp_configured else "local", normalise_email(raw))])
            else:
                phone = normalise_phone(raw)
                out.append([Route(channel, phone) for channel in policy.beneficiary_order])
        except InvalidAddress:
            continue
    return out


def delivery_id(forecast_id: uuid.UUID, contact: str) -> uuid.UUID:
    """Stable per (forecast, recipient): the same forecast is told once to each."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"shortfall/{forecast_id}/{contact}")


def message_variables(p: QuotaShortfallForecast, regions: RegionIndex, village: str | None = None) -> dict[str, Any]:
    """The template's variables; ``village``: the official's own desa (None: an admin, told every desa)."""
    categories = [OCCUPATIONS.get(code, code) for code in p.under_represented]
    return {
        "funding_source": p.funding_source_name,
        "programme_year": p.programme_year,
        "as_of": p.as_of,
        "quota": p.quota,
        "enrolled": p.enrolled,
        "forecast_enrolled": p.forecast_enrolled,
        "seats_left": format_decimal(p.seats_left, format="#,##0", locale="id_ID"),
        "unspent": rupiah(p.unspent_rupiah),
        "categories": ", ".join(categories) if categories else "-",
        "desa": [village_name(d.desa_code, regions) for d in p.desa],
        "village": village,
    }
