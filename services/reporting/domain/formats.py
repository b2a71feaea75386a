"""Numbers, money, shares and times as the reader's language writes them (Babel's CLDR data).

Bahasa Indonesia: ``2.300``, ``1,5%``, ``Rp3.024.000.000``, ``3 Desember 2026 09:25 WITA``; English: ``2,300``,
``1.5%``, ``Rp3,024,000,000``, ``3 December 2026 09:25 WITA``. Times are always shown in WITA (Asia/Makassar), the
time of Kalimantan Timur, whatever the server's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent

from services.reporting.domain.labels import Lang
from services.reporting.domain.readmodel import WITA

LOCALES: dict[Lang, str] = {"id": "id_ID", "en": "en_GB"}


@dataclass(frozen=True)
class Formats:
    lang: Lang

    @property
    def locale(self) -> str:
        return LOCALES[self.lang]

    def number(self, value: float) -> str:
        return format_decimal(value, format="#,##0", locale=self.locale)

    def decimal(self, value: float) -> str:
        """One decimal: ``12,5`` (id) or ``12.5`` (en)."""
        return format_decimal(value, format="#,##0.0", locale=self.locale)

    def percent(self, share: float) -> str:
        """A share (0..1) with one decimal: ``0.015`` -> ``1,5%`` (id) or ``1.5%`` (en)."""
        return format_percent(share, format="#,##0.0%", locale=self.locale)

    def rupiah(self, value: float) -> str:
        return "Rp" + self.number(value)

    def when(self, at: datetime) -> str:
        return format_datetime(at, "d MMMM y HH:mm", tzinfo=WITA, locale=self.locale) + " WITA"
