"""The decision over all checks, the events it announces, and life events from a changed registry record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.verification.domain.checks import (
    LAYER_OF,
    WITA,
    CheckOutcome,
    Policy,
    RegistryRecord,
    age_limits,
    birth_date_match,
    duplicate_person,
    name_match,
    nik_structure,
    occupation,
    phone,
    possible_duplicate,
    regency_of,
    registry_found,
    registry_status,
    residence,
    severity,
    sex_match,
    skipped,
    supporting_letter,
    wage_earner,
)
from services.verification.domain.duplicates import DuplicateEvidence
from services.verification.domain.severities import Severity
from shared.contracts import (
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    PersonChange,
    Reason,
)
from shared.regions import RegionIndex

Outcome = Literal["verified", "rejected", "in_review"]

# ----------------------------------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class Decision:
    checks: tuple[CheckOutcome, ...]
    name_score: float | None
    record: RegistryRecord | None
    duplicates: tuple[DuplicateEvidence, ...] = ()

    def _of(self, kind: Severity) -> tuple[Reason, ...]:
        return tuple(f for c in self.checks for f in c.findings if severity(f.code) == kind)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self._of("reject")

    @property
    def flags(self) -> tuple[Reason, ...]:
        return self._of("flag")

    @property
    def review_reasons(self) -> tuple[Reason, ...]:
        return self._of("review")

    @property
    def outcome(self) -> Outcome:
        """Any failed check rejects; otherwise a review finding waits for a verifier; otherwise verified."""
        if self.reasons:
            return "rejected"
        return "in_review" if self.review_reasons else "verified"

    @property
    def review_layer(self) -> str:
        layers = [LAYER_OF.get(c.check, "") for c in self.checks if c.status == "review"]
        return layers[0] if layers else ""


def decision_date(occurred_at: datetime) -> date:
    """The calendar day of an event in Kalimantan Timur, the day ages are counted on."""
    return occurred_at.astimezone(WITA).date()


REGISTRY_CHECKS = ("registry_found", "registry_status", "residence", "name_match", "birth_date_match", "sex_match")


def decide(
    nomination: NominationSubmitted,
    *,
    on: date,
    record: RegistryRecord | None,
    already_verified: bool,
    regions: RegionIndex,
    policy: Policy,
    duplicates: Sequence[DuplicateEvidence] = (),
    active_wage_earner: bool = False,
) -> Decision:
    """Run every layer that can run (structure, duplicates, civil registry, employment); every failing reason is
    kept, not only the first. ``duplicates`` is the fuzzy-duplicate evidence found for this nominee."""
    nik = nik_structure(nomination.nik, nomination.birth_date, nomination.sex, regions)
    checks = [
        nik,
        phone(nomination.phone),
        occupation(nomination.occupation, policy),
        supporting_letter(nomination.nominator.type, nomination.supporting_letter, policy),
        duplicate_person(already_verified),
    ]
    score = None
    if nik.status == "failed":
        # A malformed NIK is not looked up: "not found" would only repeat the NIK's fault.
        checks += [skipped(name, "NIK invalid") for name in REGISTRY_CHECKS]
    elif record is None:
        checks += [registry_found(None)]
        checks += [skipped(name, "no registry record") for name in REGISTRY_CHECKS[1:]]
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
    checks.append(wage_earner(active_wage_earner))
    checks.append(possible_duplicate(duplicates))
    return Decision(tuple(checks), score, record if nik.status != "failed" else None, tuple(duplicates))


def decision_event(
    nomination: NominationSubmitted, decision: Decision
) -> IdentityVerified | IdentityRejected | IdentityReviewRequested:
    """The payload announcing a decision. A verified identity carries the registry's name, birth date and sex."""
    if decision.outcome == "rejected":
        return rejected_event(nomination, decision.reasons)
    if decision.outcome == "in_review":
        return IdentityReviewRequested(
            nomination_id=nomination.nomination_id,
            layer=decision.review_layer,
            reasons=decision.review_reasons,
            desa_code=nomination.address.desa_code,
        )
    record = decision.record
    assert record is not None and decision.name_score is not None  # verified implies a registry match
    return verified_event(nomination, record, decision.name_score, decision.flags)


def rejected_event(nomination: NominationSubmitted, found: Sequence[Reason]) -> IdentityRejected:
    return IdentityRejected(
        nomination_id=nomination.nomination_id,
        reasons=tuple(found),
        full_name=nomination.full_name,
        nominator=nomination.nominator,
        desa_code=nomination.address.desa_code,
    )


def verified_event(
    nomination: NominationSubmitted, record: RegistryRecord, name_score: float, flags: Sequence[Reason]
) -> IdentityVerified:
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
        name_score=name_score,
        flags=tuple(flags),
        submission_proof=nomination.submission_proof,  # passed on: enrolment checks it with nomination's key
    )


# ---------------------------------------------------------------------------------------------- life events


def life_event(
    old: RegistryRecord | None, new: RegistryRecord, programme_regency: str
) -> tuple[PersonChange, str | None] | None:
    """What a registry refresh changed for a verified person: (change, new regency for a move) or None.

    ``old`` is the person's row in the replaced snapshot (None when they were verified through another source:
    then they are compared with what verification required, alive, active and resident in the regency).
    """
    was_status = old.status if old else "HIDUP"
    was_regency = regency_of(old.kel_code) if old else programme_regency
    if new.status == "MATI" and was_status != "MATI":
        return "deceased", None
    if new.status == "TIDAK_AKTIF" and was_status == "HIDUP":
        return "inactive", None
    now_regency = regency_of(new.kel_code)
    if now_regency != programme_regency and was_regency == programme_regency:
        return "moved_out", now_regency
    return None
