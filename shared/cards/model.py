"""What a membership card says: the ``Card`` (one member), its Bahasa Indonesia texts, and the text helpers both
renderers share (dates and rupiah with babel, Latin text for the built-in fonts, wrapping that never overflows).

A card shows the member's name, membership number (KPJ), programme, who pays (the funding source), the start of cover,
the desa, how to claim (JKK, JKM), the BPJS contact 175, and a QR code with the signed self-check link
(``shared.cards.links``). Renderers: ``shared.cards.render`` (PDF, one card or a desa's batch) and
``shared.cards.image`` (PNG).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from babel.numbers import format_currency

LOCALE = "id_ID"
PROGRAMME = "BPJS Ketenagakerjaan: JKK + JKM"
BPJS_CONTACT = "175"
JKM_DEATH_BENEFIT = 42_000_000  # Rp20m lump sum + Rp12m periodic + Rp10m funeral (DOMAIN.md)


@dataclass(frozen=True)
class Card:
    """One member's card. ``qr_url`` is ``links.card_url(self_check_url, links.card_token(printer, nomination_id))``."""

    full_name: str
    membership_number: str  # KPJ
    funding_source_name: str
    coverage_start: date
    desa_name: str
    nomination_id: uuid.UUID
    qr_url: str
    programme: str = PROGRAMME


def tanggal(value: date) -> str:
    """``1 Desember 2026`` (babel, id_ID)."""
    return format_date(value, "d MMMM y", locale=LOCALE)


def rupiah(amount: int) -> str:
    """``Rp42.000.000`` (babel, id_ID, no decimals)."""
    return format_currency(amount, "IDR", format="¤#,##0", locale=LOCALE, currency_digits=False).replace("\xa0", "")


TITLE = "KARTU PESERTA"
SUBTITLE = "BPJS Ketenagakerjaan · Pekerja Rentan"
LABEL_KPJ = "No. KPJ"
LABEL_PROGRAMME = "Program"
LABEL_FUNDING = "Iuran dibayar oleh"
LABEL_START = "Berlaku mulai"
LABEL_DESA = "Desa/Kelurahan"
QR_CAPTION = "Pindai untuk cek kepesertaan"
CLAIM_TITLE = "Cara mengajukan klaim"


def claim_texts() -> tuple[str, ...]:
    """The back of the card: how to claim, in plain Bahasa Indonesia."""
    return (
        "Kecelakaan kerja (JKK): laporkan kepada pemberi kerja atau kantor desa dan kepada BPJS Ketenagakerjaan "
        "paling lambat 2×24 jam setelah kejadian, dengan menyebut nomor KPJ. Biaya perawatan ditanggung sesuai "
        "kebutuhan medis.",
        "Meninggal dunia (JKM): keluarga mengajukan klaim ke kantor BPJS Ketenagakerjaan dengan akta kematian dan "
        f"kartu ini. Santunan kematian {rupiah(JKM_DEATH_BENEFIT)}.",
        f"Informasi dan pengaduan: BPJS Ketenagakerjaan {BPJS_CONTACT}.",
        "Iuran dibayar pemerintah daerah: peserta tidak membayar apa pun.",
    )


_NO_DECOMPOSITION = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "Ħ": "H", "ħ": "h", "ı": "i"})


def latin(text: str) -> str:
    """``text`` in the characters the built-in PDF fonts draw (Windows-1252): others lose their accent (NFKD) or
    become ``?``, so a name never prints as empty boxes."""
    out = []
    for char in unicodedata.normalize("NFC", " ".join(text.split())).translate(_NO_DECOMPOSITION):
        try:
            char.encode("cp1252")
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        try:
            base.encode("cp1252")
            out.append(base or "?")
        except UnicodeEncodeError:
            out.append("?")
    return "".join(out)


Measure = Callable[[str, float], float]  # (text, font size) -> width, in the renderer's unit


def wrap(text: str, width: float, measure: Measure, size: float) -> list[str]:
    """``text`` in lines no wider than ``width`` at ``size``; a word wider than a line is cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while measure(word, size) > width:  # a word longer than a line: cut it where it no longer fits
            cut = max(1, max((i for i in range(1, len(word) + 1) if measure(word[:i], size) <= width), default=1))
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if not line or measure(candidate, size) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def fit(text: str, width: float, measure: Measure, sizes: Sequence[float], max_lines: int) -> tuple[float, list[str]]:
    """The largest of ``sizes`` (largest first) at which ``text`` takes at most ``max_lines`` lines, and the lines;
    at the smallest size, the lines it takes (the caller leaves room for them)."""
    lines: list[str] = []
    for size in sizes:
        lines = wrap(text, width, measure, size)
        if len(lines) <= max_lines:
            return size, lines
    return sizes[-1], lines


def sorted_cards(cards: Sequence[Card]) -> list[Card]:
    """A desa's cards in the order of its receipt list: by name (case and accents ignored), then KPJ."""

    def key(card: Card) -> tuple[str, str]:
        name = "".join(c for c in unicodedata.normalize("NFKD", card.full_name) if not unicodedata.combining(c))
        return name.casefold(), card.membership_number

    return sorted(cards, key=key)
