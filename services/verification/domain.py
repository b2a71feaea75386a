"""Verification rules: pure decisions over a nomination, its civil-registry record and earlier decisions.

Each rule is a check that returns a recorded ``CheckOutcome`` (passed, failed, flagged or skipped, with its
findings), so a decision is explainable check by check and a later layered process (internal validation, a review
queue for flags, an HTTP registry) can reuse the checks one by one. A nomination is verified when no check failed;
flags travel with the verified event for a person to review. Findings carry a code from ``CATALOGUE`` and an English
detail without personal data: the Bahasa text for beneficiaries is the notification service's business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Literal

from stdnum import numdb
from stdnum.id import nik as stdnum_nik

from services.verification import names
from shared.contracts import IdentityRejected, IdentityVerified, NominationSubmitted, Reason, Sex
from shared.regions import RegionIndex, dotted

Severity = Literal["reject", "flag"]
CheckStatus = Literal["passed", "failed", "flagged", "skipped"]
Outcome = Literal["verified", "rejected"]
RegistryStatus = Literal["HIDUP", "MATI", "TIDAK_AKTIF"]

WITA = timezone(timedelta(hours=8), "WITA")  # Kalimantan Timur, no daylight saving time
KALTIM = "64"


@dataclass(frozen=True)
class ReasonCode:
    severity: Severity
    description: str


# code -> what it means. "reject" codes reject the nomination; "flag" codes let it through, marked for review.
CATALOGUE: dict[str, ReasonCode] = {
    "NIK_INVALID": ReasonCode(
        "reject", "The NIK is not a valid NIK: 16 digits, a valid encoded birth date, a known province and regency."
    ),
    "NIK_KECAMATAN_UNKNOWN": ReasonCode(
        "flag", "The kecamatan code in the NIK is not in the official region list (it may predate a boundary change)."
    ),
    "NIK_BIRTHDATE_MISMATCH": ReasonCode(
        "flag", "The birth date or sex encoded in the NIK differs from the stated one (a NIK is never re-issued)."
    ),
    "DUPLICATE_PERSON": ReasonCode("reject", "Another nomination of the same person has already been verified."),
    "REGISTRY_NOT_FOUND": ReasonCode("reject", "The NIK is not in the civil registry."),
    "DECEASED": ReasonCode("reject", "The civil registry records the person as deceased."),
    "INACTIVE": ReasonCode("reject", "The person's civil registry record is inactive."),
    "OUTSIDE_PROGRAMME_REGENCY": ReasonCode(
        "reject", "The residence recorded in the civil registry is outside the programme's regency."
    ),
    "NAME_MISMATCH": ReasonCode("reject", "The stated name does not match the civil registry's name closely enough."),
    "BIRTH_DATE_MISMATCH": ReasonCode("reject", "The stated birth date differs from the civil registry's."),
    "SEX_MISMATCH": ReasonCode("flag", "The stated sex differs from the civil registry's."),
    "AGE_OUT_OF_RANGE": ReasonCode("reject", "The person's age is outside the programme's age limits."),
}


def severity(code: str) -> Severity:
    return CATALOGUE[code].severity


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
        out: dict[str, Any] = {"check": self.check, "status": self.status}
        if self.findings:
            out["codes"] = [f.code for f in self.findings]
        if self.note:
            out["note"] = self.note
        return out


def _concluded(check: str, findings: Iterable[Reason] = ()) -> CheckOutcome:
    found = tuple(findings)
    if any(severity(f.code) == "reject" for f in found):
        status: CheckStatus = "failed"
    else:
        status = "flagged" if found else "passed"
    return CheckOutcome(check, status, found)


def _skipped(check: str, note: str) -> CheckOutcome:
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


@dataclass(frozen=True)
class Policy:
    """The programme's thresholds (settings)."""

    name_match_threshold: float = 80.0
    min_age: int = 18
    max_age: int = 65


# ------------------------------------------------------------------------------------------------------- checks


def nik_structure(nik: str, birth_date: date, sex: Sex, regions: RegionIndex) -> CheckOutcome:
    """16 digits, a real encoded date, a province and regency known nationally; kecamatan and birth date warn only."""
    check = "nik_structure"
    if len(nik) != 16 or not (nik.isascii() and nik.isdigit()):
        return _concluded(check, [finding("NIK_INVALID", "The NIK is not 16 digits.")])
    if not _date_part_valid(nik[6:12]):
        return _concluded(check, [finding("NIK_INVALID", "The birth date encoded in the NIK is not a date.")])
    if not _province_known(nik[:4]):
        return _concluded(check, [finding("NIK_INVALID", "The province code in the NIK is unknown.")])
    if not _regency_known(nik[:4], regions):
        return _concluded(check, [finding("NIK_INVALID", "The regency code in the NIK is unknown.")])
    flags = []
    if nik[:2] == KALTIM and not regions.is_level(dotted(nik[:6]), "kecamatan"):
        detail = f"The kecamatan code in the NIK is not in region list {regions.version}."
        flags.append(finding("NIK_KECAMATAN_UNKNOWN", detail))
    differs = _nik_birth_fields_differ(nik, birth_date, sex)
    if differs:
        detail = f"The NIK encodes another {' and '.join(differs)} than the stated one."
        flags.append(finding("NIK_BIRTHDATE_MISMATCH", detail))
    return _concluded(check, flags)


# stdnum's NIK validation, cached per part: once the NIK is 16 ASCII digits, ``stdnum.id.nik.validate`` checks the
# date part (DDMMYY) and the place part (PPKK) independently, and calling it per NIK cost a third of a batch's time.
# The canonical NIKs below differ from the real one only in the part that is not being checked.
@lru_cache(maxsize=100_000)
def _date_part_valid(ddmmyy: str) -> bool:
    return stdnum_nik.is_valid(f"640101{ddmmyy}0001")


@lru_cache(maxsize=4096)
def _province_known(ppkk: str) -> bool:
    return stdnum_nik.is_valid(f"{ppkk}010101000001")


@lru_cache(maxsize=4096)
def _regency_known(ppkk: str, regions: RegionIndex) -> bool:
    # stdnum's national list keeps codes of regencies that moved to a new province (Kaltara 2012): old NIKs keep
    # them. The official region list covers codes newer than stdnum's data.
    info = numdb.get("id/loc").info(ppkk)
    if len(info) >= 2 and info[1][1]:
        return True
    return ppkk[:2] == KALTIM and regions.is_level(dotted(ppkk), "kabupaten_kota")


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


def duplicate_person(already_verified: bool) -> CheckOutcome:
    if already_verified:
        return _concluded("duplicate_person", [finding("DUPLICATE_PERSON", "The person is already verified.")])
    return _concluded("duplicate_person")


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
    regency = ".".join(record.kel_code.split(".")[:2])
    if regency != programme_regency:
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


# ----------------------------------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class Decision:
    checks: tuple[CheckOutcome, ...]
    name_score: float | None
    record: RegistryRecord | None

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return tuple(f for c in self.checks for f in c.findings if severity(f.code) == "reject")

    @property
    def flags(self) -> tuple[Reason, ...]:
        return tuple(f for c in self.checks for f in c.findings if severity(f.code) == "flag")

    @property
    def outcome(self) -> Outcome:
        return "rejected" if self.reasons else "verified"


def decision_date(occurred_at: datetime) -> date:
    """The calendar day of an event in Kalimantan Timur, the day ages are counted on."""
    return occurred_at.astimezone(WITA).date()


def decide(
    nomination: NominationSubmitted,
    *,
    on: date,
    record: RegistryRecord | None,
    already_verified: bool,
    regions: RegionIndex,
    policy: Policy,
) -> Decision:
    """Run every check that can run; the decision carries all failing reasons, not only the first."""
    nik = nik_structure(nomination.nik, nomination.birth_date, nomination.sex, regions)
    checks = [nik, duplicate_person(already_verified)]
    score = None
    registry_checks = ("registry_found", "registry_status", "residence", "name_match", "birth_date_match", "sex_match")
    if nik.status == "failed":
        # A malformed NIK is not looked up: "not found" would only repeat the NIK's fault.
        checks += [_skipped(name, "NIK invalid") for name in registry_checks]
    elif record is None:
        checks += [registry_found(None)]
        checks += [_skipped(name, "no registry record") for name in registry_checks[1:]]
    else:
        name, score = name_match(nomination.full_name, record, policy.name_match_threshold)
        checks += [
            registry_found(record),
            registry_status(record),
            residence(record, nomination.programme_regency),
            name,
            birth_date_match(nomination.birth_date, record),
            sex_match(nomination.sex, record),
        ]
    if record is not None and nik.status != "failed":
        checks.append(age_limits(record.birth_date, on, policy, "registry"))
    else:  # still tell the nominator early when the stated birth date alone rules the person out
        checks.append(age_limits(nomination.birth_date, on, policy, "stated"))
    return Decision(tuple(checks), score, record if nik.status != "failed" else None)


def decision_event(nomination: NominationSubmitted, decision: Decision) -> IdentityVerified | IdentityRejected:
    """The payload announcing a decision. A verified identity carries the registry's name, birth date and sex."""
    if decision.outcome == "rejected":
        return IdentityRejected(
            nomination_id=nomination.nomination_id,
            reasons=decision.reasons,
            full_name=nomination.full_name,
            nominator=nomination.nominator,
            desa_code=nomination.address.desa_code,
        )
    record = decision.record
    assert record is not None and decision.name_score is not None  # verified implies a registry match
    return IdentityVerified(
        nomination_id=nomination.nomination_id,
        nik=nomination.nik,
        full_name=record.full_name,
        birth_date=record.birth_date,
        sex=record.sex,
        phone=nomination.phone,
        desa_code=nomination.address.desa_code,
        occupation=nomination.occupation,
        nominator=nomination.nominator,
        programme_regency=nomination.programme_regency,
        name_score=decision.name_score,
        flags=decision.flags,
    )
