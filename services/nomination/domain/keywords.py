"""Keyword messages by SMS or WhatsApp: ``CEK``, ``SANGGAH``, ``DAFTAR``; anything else gets the help text.

Pure parsing, tolerant of how people type on a phone: any case, extra spaces, ``#`` or spaces between the parts,
a birth date as DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY or DDMMYYYY. Whatever fails to parse is ``Help`` naming the
keyword it was meant for (its example is sent back), never an error: a message is a person, not a request.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz, process

from shared import formats
from shared.contracts import ObjectionReason
from shared.regions import RegionIndex

MAX_TEXT = 480  # InboundMessageReceived.text
MAX_REASON = 1000  # ObjectionFiled.reason_text
MAX_NAME = 120
_DATE = re.compile(r"^(\d{2})[-/.]?(\d{2})[-/.]?(\d{4})$")
_SEPARATORS = re.compile(r"[\s#]+")
_KEYWORD = re.compile(r"^([A-Za-z]+)[\s#]*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Cek:
    nik: str
    birth_date: date


@dataclass(frozen=True)
class Sanggah:
    nik: str
    birth_date: date
    reason_code: ObjectionReason
    reason_text: str


@dataclass(frozen=True)
class Daftar:
    full_name: str
    desa_code: str
    occupation: str


@dataclass(frozen=True)
class Help:
    topic: str | None = None  # the keyword the message was meant for ("CEK", "SANGGAH", "DAFTAR"), None: unknown


Keyword = Cek | Sanggah | Daftar | Help


def normalise(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII ones), control and format characters dropped, trimmed."""
    text = unicodedata.normalize("NFKC", text[: MAX_TEXT * 2])
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf") or c in "\n\t").strip()


def parse_birth_date(value: str) -> date | None:
    """DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY or DDMMYYYY; None for anything else (or a date that does not exist)."""
    found = _DATE.match(value.strip())
    if found is None:
        return None
    day, month, year = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_nik(value: str) -> str | None:
    try:
        return formats.nik(value)
    except formats.InvalidFormat:
        return None


def parse(text: str, regions: RegionIndex, regency: str) -> Keyword:
    """The keyword message ``text`` as one of ``Cek``, ``Sanggah``, ``Daftar`` or ``Help``. ``regency``: the
    programme's dotted regency code, whose desa a ``DAFTAR`` names."""
    if len(text) > MAX_TEXT:
        return Help()
    found = _KEYWORD.match(normalise(text))
    if found is None:
        return Help()
    keyword, rest = found.group(1).upper(), found.group(2)
    if keyword == "CEK":
        parts = _SEPARATORS.split(rest.strip())
        nik, born = (parse_nik(parts[0]), parse_birth_date(parts[1])) if len(parts) == 2 else (None, None)
        return Cek(nik, born) if nik and born else Help("CEK")
    if keyword == "SANGGAH":
        return _sanggah(rest)
    if keyword == "DAFTAR":
        return _daftar(rest, regions, regency)
    return Help()


def _sanggah(rest: str) -> Keyword:
    parts = _SEPARATORS.split(rest.strip(), maxsplit=2)
    if len(parts) < 3:
        return Help("SANGGAH")
    nik, born = parse_nik(parts[0]), parse_birth_date(parts[1])
    reason = " ".join(parts[2].split())[:MAX_REASON]
    if not (nik and born and reason):
        return Help("SANGGAH")
    return Sanggah(nik, born, reason_code(reason), reason)


# Words in an SMS objection that name its reason (ObjectionReason); anything else is "other".
_REASON_WORDS: tuple[tuple[ObjectionReason, tuple[str, ...]], ...] = (
    ("not_deceased", ("masih hidup", "tidak meninggal", "belum meninggal")),
    ("not_moved", ("tidak pindah", "belum pindah", "masih tinggal")),
    ("not_duplicate", ("ganda", "bukan orang yang sama", "orang lain")),
    ("data_corrected", ("sudah diperbaiki", "sudah diperbarui", "perbaikan data", "data sudah benar")),
    ("still_eligible", ("masih bekerja", "masih pekerja", "tidak punya majikan", "masih nelayan", "masih petani")),
)


def reason_code(text: str) -> ObjectionReason:
    lowered = text.lower()
    for code, words in _REASON_WORDS:
        if any(word in lowered for word in words):
            return code
    return "other"


def _daftar(rest: str, regions: RegionIndex, regency: str) -> Keyword:
    parts = [" ".join(p.split()) for p in rest.split("#")]
    if len(parts) != 3 or not all(parts):
        return Help("DAFTAR")
    name, desa_name, work = parts
    full_name = clean_name(name)
    desa_code = find_desa(desa_name, regions, regency)
    occupation = find_occupation(work)
    if full_name is None or desa_code is None or occupation is None:
        return Help("DAFTAR")
    return Daftar(full_name, desa_code, occupation)


def clean_name(value: str) -> str | None:
    """A person's name: letters, spaces and . ' - , only, at most ``MAX_NAME`` characters; None otherwise."""
    value = " ".join(value.split())
    if not value or len(value) > MAX_NAME:
        return None
    allowed = set(" .'-,")
    if any(c not in allowed and unicodedata.category(c)[0] not in "LM" for c in value):
        return None
    return value if any(unicodedata.category(c).startswith("L") for c in value) else None


def _folded(value: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", value.lower()).split())


def find_desa(name: str, regions: RegionIndex, regency: str) -> str | None:
    """The desa/kelurahan of the programme's regency named ``name`` (exact, else one close match of 90+); None when
    none or several match (two desa of one name in different kecamatan: the sender is asked again). ``name`` may
    add its kecamatan after a comma: ``Senyiur, Muara Ancalong``."""
    wanted, _, kecamatan = (_folded(p) for p in name.partition(","))
    if not wanted:
        return None
    desa = [
        r
        for r in regions.by_level("desa_kelurahan")
        if r.code.startswith(regency + ".")
        and (not kecamatan or _folded(getattr(regions.get(r.parent_code or ""), "name", "")) == kecamatan)
    ]
    exact = [r.code for r in desa if _folded(r.name) == wanted]
    if exact:
        return exact[0] if len(exact) == 1 else None
    scored = process.extract(wanted, {r.code: _folded(r.name) for r in desa}, scorer=fuzz.ratio, score_cutoff=90)
    return scored[0][2] if len(scored) == 1 else None


def find_occupation(value: str) -> str | None:
    """An occupation code of ``formats.OCCUPATIONS`` by code or label, or the one label close to it (80+)."""
    wanted = _folded(value.replace("_", " "))
    if not wanted:
        return None
    choices: dict[str, str] = {}
    for code, label in formats.OCCUPATIONS.items():
        choices[code] = _folded(code.replace("_", " "))
        for i, part in enumerate(label.split("/")):
            choices[f"{code}|{i}"] = _folded(part)
    found = process.extractOne(wanted, choices, scorer=fuzz.WRatio, score_cutoff=80)
    return None if found is None else str(found[2]).split("|")[0]
