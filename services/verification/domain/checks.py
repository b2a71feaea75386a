"""Verification rules: pure decisions over a nomination, its civil-registry record and earlier decisions.

Each rule is a check that returns a recorded ``CheckOutcome`` (passed, failed, flagged, review or skipped, with its
findings and its layer: structure, duplicates, civil_registry, employment), so a decision is explainable check by
check. Any failed check rejects; otherwise a ``review`` finding (a probable duplicate under another NIK) sends the
nomination to a Disnaker verifier; otherwise it is verified, and flags travel with the verified event. Findings
carry a code of the shared catalogue (``shared.reasons``) and an English detail without personal data.

Decision on doubtful NIK birth dates: when the NIK's encoded date or sex differs from the stated one, but the civil
registry confirms the stated date, the nomination is verified with the ``NIK_BIRTHDATE_MISMATCH`` flag rather than
sent to review: the registry is the authority, a NIK is never re-issued, and a verifier would have nothing to add.
When the registry disagrees with the stated date, ``BIRTH_DATE_MISMATCH`` rejects (the official corrects the form).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal

from services.verification.domain import names
from services.verification.domain.duplicates import DuplicateEvidence
from services.verification.domain.severities import severity as severity
from shared import formats
from shared.contracts import (
    Reason,
    Sex,
    SupportingLetter,
)
from shared.reasons import REASONS, ReasonInfo
from shared.regions import NikPlace, RegionIndex, dotted, national_regions, nik_place

CheckStatus = Literal["passed", "failed", "flagged", "review", "skipped"]
RegistryStatus = Literal["HIDUP", "MATI", "TIDAK_AKTIF"]

WITA = timezone(timedelta(hours=8), "WITA")  # Kalimantan Timur, no daylight saving time
KALTIM = "64"


# code -> English description and Bahasa advice: the project's one catalogue (shared.reasons), read here; the
# severity of each code is verification's own (domain/severities.py).
CATALOGUE: dict[str, ReasonInfo] = REASONS


def finding(code: str, detail: str) -> Reason:
    if code not in CATALOGUE:
        raise KeyError(f"reason code {code!r} is not in the catalogue")
    return Reason(code=code, detail=detail)


@dataclass(frozen=True)
class CheckOutcome:
    """What one check concluded: its status, its findings (rejections and flags) and, when skipped, why."""

    check: str
    status: CheckStatus
    findings: tuple[Reason, ...] = ()
    note: str = ""

    def record(self) -> dict[str, Any]:
        """The JSON form stored with the decision."""
        out: dict[str, Any] = {"layer": LAYER_OF.get(self.check, ""), "check": self.check, "status": self.status}
        if self.findings:
            out["codes"] = [f.code for f in self.findings]
        if self.note:
            out["note"] = self.note
        return out


def _concluded(check: str, findings: Iterable[Reason] = ()) -> CheckOutcome:
    found = tuple(findings)
    kinds = {severity(f.code) for f in found}
    if "reject" in kinds:
        status: CheckStatus = "failed"
    elif "review" in kinds:
        status = "review"
    else:
        status = "flagged" if found else "passed"
    return CheckOutcome(check, status, found)


def skipped(check: str, note: str) -> CheckOutcome:
    return CheckOutcome(check, "skipped", note=note)


@dataclass(frozen=True)
class RegistryRecord:
    """What the civil registry holds about one NIK (only the fields the rules use)."""

    nik: str
    full_name: str  # NAMA_LGKP
    birth_date: date  # TGL_LHR
    sex: Sex  # JENIS_KLMIN
    kel_code: str  # dotted desa/kelurahan code of the residence
    status: RegistryStatus
    no_kk: str | None = None  # NO_KK: family card, a duplicate signal only (it changes with moves and marriages)


# The programme's informal-worker categories: every occupation code of the nomination form (shared.formats).
INFORMAL_OCCUPATIONS = formats.OCCUPATION_CODES
# check -> the layer it belongs to, recorded with each outcome so a decision reads layer by layer.
LAYER_OF = {
    "nik_structure": "structure",
    "phone": "structure",
    "age_limits": "structure",
    "occupation": "structure",
    "supporting_letter": "structure",
    "duplicate_person": "duplicates",
    "possible_duplicate": "duplicates",
    "registry_found": "civil_registry",
    "registry_status": "civil_registry",
    "residence": "civil_registry",
    "name_match": "civil_registry",
    "birth_date_match": "civil_registry",
    "sex_match": "civil_registry",
    "wage_earner": "employment",
}


@dataclass(frozen=True)
class Policy:
    """The programme's thresholds (settings)."""

    name_match_threshold: float = 80.0
    min_age: int = 18
    max_age: int = 65
    informal_occupations: frozenset[str] = INFORMAL_OCCUPATIONS
    letter_required_for: frozenset[str] = frozenset({"rt", "desa"})
    duplicate_name_threshold: float = 90.0  # a different NIK with a name this close (and more) goes to review


# ------------------------------------------------------------------------------------------------------- checks


def nik_structure(nik: str, birth_date: date, sex: Sex, regions: RegionIndex) -> CheckOutcome:
    """16 digits, a real encoded date, a province known nationally; regency, kecamatan and birth date warn only.

    The place part is read against the national province and regency list (``shared.regions.nik_place``): a NIK
    keeps the code of the regency that issued it, so a regency code no longer listed under a known province (one
    that moved: Kalimantan Utara 2012, Papua 2022) is a flag, and the civil registry decides whether the NIK exists.
    """
    check = "nik_structure"
    if len(nik) != 16 or not (nik.isascii() and nik.isdigit()):
        return _concluded(check, [finding("NIK_INVALID", "The NIK is not 16 digits.")])
    if not formats.nik_date_valid(nik[6:12]):
        return _concluded(check, [finding("NIK_INVALID", "The birth date encoded in the NIK is not a date.")])
    place = _place(nik[:4], regions)
    if place == "province_unknown":
        return _concluded(check, [finding("NIK_INVALID", "The province code in the NIK is unknown.")])
    flags = []
    if place == "regency_unknown":
        detail = f"The regency code in the NIK is not in the national region list {national_regions().version}."
        flags.append(finding("NIK_REGENCY_UNKNOWN", detail))
    elif nik[:2] == KALTIM and not regions.is_level(dotted(nik[:6]), "kecamatan"):
        detail = f"The kecamatan code in the NIK is not in region list {regions.version}."
        flags.append(finding("NIK_KECAMATAN_UNKNOWN", detail))
    differs = _nik_birth_fields_differ(nik, birth_date, sex)
    if differs:
        detail = f"The NIK encodes another {' and '.join(differs)} than the stated one."
        flags.append(finding("NIK_BIRTHDATE_MISMATCH", detail))
    return _concluded(check, flags)


@lru_cache(maxsize=4096)
def _place(ppkk: str, regions: RegionIndex) -> NikPlace:
    if regions.is_level(dotted(ppkk), "kabupaten_kota"):  # the programme's own list may be newer
        return "known"
    return nik_place(ppkk)


def nik_birth_date(nik: str) -> tuple[int, int, int, Sex]:
    """(day, month, two-digit year, sex) encoded in a NIK: day plus 40 for women."""
    day = int(nik[6:8])
    return day % 40, int(nik[8:10]), int(nik[10:12]), "F" if day > 40 else "M"


def _nik_birth_fields_differ(nik: str, birth_date: date, sex: Sex) -> list[str]:
    day, month, year, nik_sex = nik_birth_date(nik)
    differs = []
    if (day, month, year) != (birth_date.day, birth_date.month, birth_date.year % 100):
        differs.append("birth date")
    if nik_sex != sex:
        differs.append("sex")
    return differs


def phone(number: str) -> CheckOutcome:
    """An Indonesian mobile number (messages reach mobiles only), by the rule the nomination form applies."""
    if not formats.is_mobile_number(number):
        return _concluded("phone", [finding("PHONE_INVALID", "Not a valid Indonesian mobile number.")])
    return _concluded("phone")


def occupation(code: str, policy: Policy) -> CheckOutcome:
    if code not in policy.informal_occupations:
        detail = f"Occupation {code!r} is not an informal-worker category of the programme."
        return _concluded("occupation", [finding("OCCUPATION_NOT_INFORMAL", detail)])
    return _concluded("occupation")


def supporting_letter(nominator_type: str, letter: SupportingLetter | None, policy: Policy) -> CheckOutcome:
    """RT and desa nominations carry their surat keterangan (number, date, issuer); Disnaker's need none."""
    if nominator_type not in policy.letter_required_for:
        return skipped("supporting_letter", f"not required from a {nominator_type} nomination")
    if letter is None or not (letter.number.strip() and letter.issuer.strip()):
        detail = f"A {nominator_type} nomination needs a supporting letter with its number and issuer."
        return _concluded("supporting_letter", [finding("LETTER_MISSING", detail)])
    return _concluded("supporting_letter")


def duplicate_person(already_verified: bool) -> CheckOutcome:
    """The same NIK (person key) is already verified, in review or waiting for the registry, whoever pays."""
    if already_verified:
        detail = "The person is already verified, in review or waiting for the registry."
        return _concluded("duplicate_person", [finding("DUPLICATE_PERSON", detail)])
    return _concluded("duplicate_person")


def possible_duplicate(evidence: Sequence[DuplicateEvidence]) -> CheckOutcome:
    """A different NIK that is probably the same person: a verifier decides (see ``duplicates``)."""
    if not evidence:
        return _concluded("possible_duplicate")
    best = evidence[0]
    signals = [s for s, on in (("same KK", best.same_kk), ("same desa", best.same_desa)) if on]
    detail = (
        f"Name score {best.name_score:g} and the same birth date as verified nomination "
        f"{best.other.nomination_id} ({', '.join(signals)})."
    )
    return _concluded("possible_duplicate", [finding("POSSIBLE_DUPLICATE", detail)])


def wage_earner(active_wage_earner: bool) -> CheckOutcome:
    """Employment layer: an active BPJS Ketenagakerjaan wage earner (PU) is employed, not an informal worker."""
    if active_wage_earner:
        detail = "On the roster of active BPJS Ketenagakerjaan wage-earner participants."
        return _concluded("wage_earner", [finding("WAGE_EARNER", detail)])
    return _concluded("wage_earner")


def registry_found(record: RegistryRecord | None) -> CheckOutcome:
    if record is None:
        return _concluded("registry_found", [finding("REGISTRY_NOT_FOUND", "No record for this NIK.")])
    return _concluded("registry_found")


def registry_status(record: RegistryRecord) -> CheckOutcome:
    if record.status == "MATI":
        return _concluded("registry_status", [finding("DECEASED", "Registry status MATI.")])
    if record.status == "TIDAK_AKTIF":
        return _concluded("registry_status", [finding("INACTIVE", "Registry status TIDAK_AKTIF.")])
    return _concluded("registry_status")


def residence(record: RegistryRecord, programme_regency: str) -> CheckOutcome:
    """The registered residence (KEL_CODE) must lie in the programme's regency."""
    if regency_of(record.kel_code) != programme_regency:
        detail = f"The registered residence is not in regency {programme_regency}."
        return _concluded("residence", [finding("OUTSIDE_PROGRAMME_REGENCY", detail)])
    return _concluded("residence")


def name_match(stated_name: str, record: RegistryRecord, threshold: float) -> tuple[CheckOutcome, float]:
    score = names.score(stated_name, record.full_name)
    if score < threshold:
        detail = f"Name score {score:g} is below the threshold {threshold:g}."
        return _concluded("name_match", [finding("NAME_MISMATCH", detail)]), score
    return _concluded("name_match"), score


def birth_date_match(stated: date, record: RegistryRecord) -> CheckOutcome:
    if stated != record.birth_date:
        detail = "The stated birth date is not the registry's."
        return _concluded("birth_date_match", [finding("BIRTH_DATE_MISMATCH", detail)])
    return _concluded("birth_date_match")


def sex_match(stated: Sex, record: RegistryRecord) -> CheckOutcome:
    if stated != record.sex:
        return _concluded("sex_match", [finding("SEX_MISMATCH", "The stated sex is not the registry's.")])
    return _concluded("sex_match")


def age_on(born: date, on: date) -> int:
    """Completed years on ``on`` (someone born on 29 February turns a year older on 1 March in common years)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_limits(born: date, on: date, policy: Policy, source: str) -> CheckOutcome:
    """Age on the nomination's date within [min_age, max_age], both included; ``source`` names the birth date."""
    age = age_on(born, on)
    if age < policy.min_age:
        detail = f"Below the minimum age {policy.min_age} on {on.isoformat()} ({source} birth date)."
    elif age > policy.max_age:
        detail = f"Above the maximum age {policy.max_age} on {on.isoformat()} ({source} birth date)."
    else:
        return _concluded("age_limits")
    return _concluded("age_limits", [finding("AGE_OUT_OF_RANGE", detail)])


def regency_of(kel_code: str) -> str:
    return ".".join(kel_code.split(".")[:2])
