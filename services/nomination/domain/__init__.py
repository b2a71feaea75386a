"""Nomination rules: what a valid proposal is, and how downstream events move a nomination forward.

Pure functions only. The progress of a nomination is folded from the events the service consumes; because those
arrive on different topics they can come in any order (a "notified" before the "enrolled" it is about), so the
status is derived from everything known rather than from the last event seen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from services.nomination.errors import ImpossibleTransition, InvalidField, LetterRefused
from shared import formats
from shared.auth import in_area
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NotificationFailed,
    NotificationSent,
    ObjectionReviewed,
    Payload,
)
from shared.regions import RegionIndex, dotted, nik_place

# Which notification purposes report an outcome; a nomination is "notified" once a message about its current
# outcome went out (a promoted person is told "enrolment_promoted"; the family of a member who died is told
# "death_benefit_information").
PURPOSES_OF_OUTCOME: dict[str, frozenset[str]] = {
    "ended": frozenset({"enrolment_ended", "death_benefit_information"}),
    "enrolled": frozenset({"enrolment_confirmed", "enrolment_promoted"}),
    "waitlisted": frozenset({"enrolment_waitlisted"}),
    "rejected": frozenset({"identity_rejected"}),
    # BPJS refused the registration: the nominator is told why (the person was never told they were covered)
    "refused": frozenset({"enrolment_refused"}),
}
# Outcomes an official corrects and sends again in one step: verification rejected it, or BPJS refused to register.
CORRECTABLE = frozenset({"rejected", "refused"})
# Outcomes that exclude each other: a nomination verification rejected never gets a seat or a waitlist place
# (nor loses one), and a nomination with a seat or a place was never rejected. Ordering does not matter: whichever
# arrives second contradicts the first. A registration BPJS refused never had cover, so it was never enrolled nor
# ended (a seat is confirmed only with BPJS's number); a waitlisted person promoted and then refused is "refused".
_EXCLUSIVE = {"rejected": {"enrolled", "waitlisted", "ended", "refused"}, "refused": {"enrolled", "ended"}}


def validate_nik(value: str, regions: RegionIndex, national: RegionIndex | None = None) -> str:
    """16 digits, a real birth date, a province of Indonesia.

    The place part is checked against the national province and regency list (``shared.regions.nik_place``): an
    unknown province is invalid; a known province with a regency code that is not (or no longer) listed is
    accepted, because a NIK keeps the code of the regency that issued it after the regency moved (Kalimantan Utara
    2012, Papua 2022). Verification flags it (``NIK_REGENCY_UNKNOWN``) and the civil registry decides. ``regions``
    (the programme's own list) only adds codes newer than the national list's version.
    """
    try:
        formats.nik(value)
    except formats.InvalidFormat as exc:
        raise InvalidField(str(exc)) from None
    if nik_place(value, national) == "province_unknown" and not regions.is_level(dotted(value[:4]), "kabupaten_kota"):
        raise InvalidField("not a valid NIK: unknown province")
    return value


def check_address(kecamatan_code: str, desa_code: str, regions: RegionIndex) -> None:
    if not regions.is_level(kecamatan_code, "kecamatan"):
        raise InvalidField(f"kecamatan_code {kecamatan_code!r} is not a kecamatan in region list {regions.version}")
    if not regions.is_level(desa_code, "desa_kelurahan"):
        raise InvalidField(f"desa_code {desa_code!r} is not a desa/kelurahan in region list {regions.version}")
    if not desa_code.startswith(kecamatan_code + "."):
        raise InvalidField("desa_code does not lie in kecamatan_code")


def check_nominator_area(nominator_type: str, region_code: str, regions: RegionIndex) -> None:
    """RT and desa officials name their desa; Disnaker names its regency."""
    level = "kabupaten_kota" if nominator_type == "disnaker" else "desa_kelurahan"
    if not regions.is_level(region_code, level):
        raise InvalidField(f"a {nominator_type} nominator's region_code must be a known {level} code")


def letter_required(nominator_type: str) -> bool:
    """RT and desa proposals carry an official supporting letter; Disnaker field officers' do not need one."""
    return nominator_type in ("rt", "desa")


def check_birth_date(value: date, today: date) -> None:
    if value > today:
        raise InvalidField("birth date is in the future")
    if value.year < 1900:
        raise InvalidField("birth date is before 1900")


@dataclass(frozen=True)
class Progress:
    """What the nomination service knows of one nomination's way through the pipeline."""

    verified: bool = False
    in_review: bool = False
    outcome: str | None = None  # rejected / waitlisted / enrolled / ended / refused
    reasons: tuple[dict[str, Any], ...] = ()
    membership_number: str | None = None
    funding_source: str | None = None
    waitlist_position: int | None = None
    notified_purposes: frozenset[str] = frozenset()
    notification_failures: int = 0
    end_reason: str | None = None
    # what a membership card prints (EnrolmentConfirmed): the start of cover (ISO date) and who pays, readable
    coverage_start: str | None = None
    funding_source_name: str | None = None
    # objections (sanggahan, domain/objections.py): the ground of the latest one filed, its last reported state,
    # whether an upheld objection re-ran verification (a result carrying its objection_id was seen), and whether
    # the rejection known is such a re-run's (then it stands until another objection)
    objection_ground: str | None = None
    objection_state: str | None = None
    reverified: bool = False
    rerun_rejected: bool = False

    @property
    def status(self) -> str:
        if self.outcome is not None:
            if PURPOSES_OF_OUTCOME[self.outcome] & self.notified_purposes:
                return "notified"
            return self.outcome
        if self.verified:
            return "verified"
        return "in_review" if self.in_review else "submitted"


def objected(progress: Progress, ground: str) -> Progress:
    """The progress of a nomination an objection on ``ground`` was just filed against (by this service)."""
    return replace(progress, objection_ground=ground, objection_state="received", rerun_rejected=False)


def reopened(progress: Progress) -> bool:
    """Whether the rejection of this nomination may be replaced: an objection to it is filed and not dismissed, and
    no re-run rejected it again since. Verification re-runs an upheld objection, and its result and what follows it
    (a seat, a waitlist place) may arrive in any order, before or after the ``ObjectionReviewed``."""
    return (
        progress.outcome == "rejected"
        and not progress.rerun_rejected
        and progress.objection_ground == "rejected"
        and progress.objection_state != "dismissed"
    )


def apply(progress: Progress, payload: Payload) -> Progress:
    """Fold one downstream event into the progress of its nomination; ``ImpossibleTransition`` when it contradicts
    the outcome already known.

    Objections: an ``IdentityVerified`` / ``IdentityRejected`` carrying ``objection_id`` is the result of a re-run
    and replaces the rejection (the nomination leaves "rejected" and goes on, or is rejected with the new reasons);
    while the rejection is ``reopened``, an enrolment outcome replaces it too (it arrived before the re-run's
    result). An ``EnrolmentConfirmed`` with ``restored_by_objection`` covers an ended member again. Without an
    objection the exclusivity of ``_EXCLUSIVE`` holds as before.
    """
    outcome = OUTCOME_OF_EVENT.get(payload.event_type)
    if outcome is not None and progress.outcome is not None and not (outcome != "rejected" and reopened(progress)):
        if outcome in _EXCLUSIVE.get(progress.outcome, ()) or progress.outcome in _EXCLUSIVE.get(outcome, ()):
            raise ImpossibleTransition(f"{payload.event_type} for a nomination that is {progress.outcome}")
    if outcome is not None and outcome != "rejected" and reopened(progress):
        progress = replace(progress, outcome=None, reasons=())  # the re-run's consequence replaces the rejection
    match payload:
        case IdentityReviewRequested():
            return replace(progress, in_review=True)
        case IdentityVerified(objection_id=None):
            return replace(progress, verified=True)
        case IdentityVerified():
            if progress.outcome == "rejected":  # an upheld objection re-ran verification: the rejection goes
                return replace(progress, verified=True, reverified=True, outcome=None, reasons=())
            return replace(progress, verified=True, reverified=True)
        case IdentityRejected(reasons=reasons, objection_id=objection_id):
            rejected = tuple(r.model_dump() for r in reasons)
            if objection_id is None:
                return replace(progress, outcome="rejected", reasons=rejected)
            return replace(
                progress, verified=False, outcome="rejected", reasons=rejected, reverified=True, rerun_rejected=True
            )
        case EnrolmentEnded(reason=reason):
            return replace(progress, verified=True, outcome="ended", end_reason=reason)
        case EnrolmentRefused(refusal_code=code):
            # BPJS's code only (e.g. PU_ACTIVE); its free-text reason went to the nominator's message
            return replace(progress, verified=True, outcome="refused", end_reason=f"bpjs_refused:{code}")
        case EnrolmentConfirmed():
            # a redelivered confirmation never reopens ended coverage; one restored by an upheld objection does
            if progress.outcome == "ended" and payload.restored_by_objection is None:
                return progress
            return replace(
                progress,
                verified=True,
                outcome="enrolled",
                end_reason=None,
                membership_number=payload.membership_number,
                funding_source=payload.funding_source,
                coverage_start=payload.coverage_start.isoformat(),
                funding_source_name=payload.funding_source_name,
            )
        case EnrolmentWaitlisted():
            if progress.outcome == "enrolled":  # a late waitlist event never undoes a seat
                return progress
            return replace(progress, verified=True, outcome="waitlisted", waitlist_position=payload.position)
        case NotificationSent(purpose=purpose):
            return replace(progress, notified_purposes=progress.notified_purposes | {purpose})
        case NotificationFailed():
            return replace(progress, notification_failures=progress.notification_failures + 1)
        case ObjectionReviewed(state=state):
            if progress.objection_state in ("upheld", "dismissed") and state == "in_review":
                return progress  # a late "in review" never undoes the decision
            return replace(progress, objection_state=state)
    raise TypeError(f"no rule for {type(payload).__name__}")


OUTCOME_OF_EVENT = {
    "IdentityRejected": "rejected",
    "EnrolmentConfirmed": "enrolled",
    "EnrolmentWaitlisted": "waitlisted",
    "EnrolmentEnded": "ended",
    "EnrolmentRefused": "refused",
}

STAGE_OF_EVENT = {
    "IdentityReviewRequested": "in_review",
    "EnrolmentEnded": "ended",
    "IdentityVerified": "verified",
    "IdentityRejected": "rejected",
    "EnrolmentConfirmed": "enrolled",
    "EnrolmentWaitlisted": "waitlisted",
    "NotificationSent": "notified",
    "NotificationFailed": "notification_failed",
    "EnrolmentRefused": "refused",
    "ObjectionReviewed": "objection_reviewed",
}


def covers(area: str | None, region_code: str) -> bool:
    """THE area rule: an account scoped to ``area`` (a desa, kecamatan, regency...) sees, submits and changes only
    what lies in it (``region_code`` equal or below); ``area`` None (programme staff) covers everything. Every
    route and page applies it through ``handlers.access``."""
    return area is None or in_area(area, region_code)


def nominator_claim_error(area: str | None, nominator_type: str, region_code: str) -> str | None:
    """Why a caller scoped to ``area`` may not nominate as (``nominator_type``, ``region_code``), or None.

    What a nominator may claim comes from its key, not from the body: a desa (or kecamatan) account is an RT or
    desa official of a desa in its area; a regency (or province) account is Disnaker of a regency in its area. So
    a desa's key can neither claim to be Disnaker (which would spare it the supporting letter) nor another desa.
    ``area`` None (programme staff) may claim any nominator.
    """
    if area is None:
        return None
    local = area.count(".") >= 2  # kecamatan 64.08.01 or desa 64.08.01.2001
    allowed = ("rt", "desa") if local else ("disnaker",)
    if nominator_type not in allowed:
        return f"this account may nominate as {' or '.join(allowed)} only"
    if not covers(area, region_code):
        return "this account may name its own area only"
    return None


# ------------------------------------------------------------------------------------------ supporting letters
LETTER_MEDIA_TYPES = ("image/jpeg", "image/png", "application/pdf")


def sniff(content: bytes) -> str | None:
    """The media type the content's magic bytes show (JPEG, PNG, PDF), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_letter(content: bytes, max_bytes: int) -> str:
    """The media type of an acceptable letter, or LetterRefused (empty, too large, not JPEG/PNG/PDF)."""
    if not content:
        raise LetterRefused(422, "LETTER_EMPTY", "the letter is empty")
    if len(content) > max_bytes:
        raise LetterRefused(413, "LETTER_TOO_LARGE", f"a letter may be at most {max_bytes} bytes")
    media_type = sniff(content)
    if media_type is None:
        raise LetterRefused(415, "LETTER_TYPE", "a letter must be a JPEG or PNG photo or a PDF (checked by content)")
    return media_type
