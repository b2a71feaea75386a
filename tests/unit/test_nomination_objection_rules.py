"""Objections (sanggahan) on the nomination side: who may object, the deadline, the states, the evidence files, and
the progress fold around a re-run (upheld objection) in any order, with the old exclusivity kept without one."""

from __future__ import annotations

import base64
import hashlib
import itertools
import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from services.nomination import domain
from services.nomination.domain import Progress, apply
from services.nomination.domain import objections as rules
from services.nomination.errors import EvidenceRefused, ImpossibleTransition, NotObjectable
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentWaitlisted,
    Evidence,
    IdentityRejected,
    IdentityVerified,
    Nominator,
    ObjectionReviewed,
    Payload,
    Reason,
)

NID = uuid.uuid4()
OBJ = uuid.uuid4()
DESA = "64.08.01.2001"
NOMINATOR = Nominator(type="desa", name="Kepala Desa", region_code=DESA)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


def summary(state: str) -> rules.ObjectionSummary:
    return rules.ObjectionSummary(uuid.uuid4(), state, date(2026, 12, 17))  # type: ignore[arg-type]


def evidence(content: bytes, content_type: str = "application/pdf", name: str = "surat.pdf", sha: str = "") -> Evidence:
    return Evidence(
        filename=name,
        content_type=content_type,  # type: ignore[arg-type]
        sha256=sha or hashlib.sha256(content).hexdigest(),
        data=base64.b64encode(content).decode(),
    )


# ------------------------------------------------------------------------------------------------ who may object
@pytest.mark.parametrize(("outcome", "ground"), [("rejected", "rejected"), ("ended", "ended")])
def test_a_rejection_and_an_ended_cover_may_be_objected_to(outcome: str, ground: str) -> None:
    assert rules.check_objectable(outcome, [], newer_nomination=False) == ground


@pytest.mark.parametrize(
    ("outcome", "code"),
    [(None, "NOT_DECIDED"), ("enrolled", "NOT_DECIDED"), ("waitlisted", "NOT_DECIDED"), ("refused", "REFUSED_BY_BPJS")],
)
def test_nothing_else_may_be_objected_to(outcome: str | None, code: str) -> None:
    with pytest.raises(NotObjectable) as refused:
        rules.check_objectable(outcome, [], newer_nomination=False)
    assert refused.value.code == code


@pytest.mark.parametrize("open_state", ["received", "in_review"])
def test_one_open_objection_per_nomination(open_state: str) -> None:
    with pytest.raises(NotObjectable) as refused:
        rules.check_objectable("rejected", [summary(open_state)], newer_nomination=False)
    assert refused.value.code == "OBJECTION_OPEN"


@pytest.mark.parametrize("decided", ["upheld", "dismissed"])
def test_after_a_decision_one_more_objection_is_allowed_and_no_third(decided: str) -> None:
    assert rules.check_objectable("rejected", [summary(decided)], newer_nomination=False) == "rejected"
    with pytest.raises(NotObjectable) as refused:
        rules.check_objectable("rejected", [summary(decided), summary("dismissed")], newer_nomination=False)
    assert refused.value.code == "OBJECTIONS_EXHAUSTED"


def test_a_newer_nomination_of_the_person_refuses_the_objection() -> None:
    with pytest.raises(NotObjectable) as refused:
        rules.check_objectable("rejected", [], newer_nomination=True)
    assert refused.value.code == "NEWER_NOMINATION"


def test_the_deadline_is_the_filing_day_plus_the_service_level() -> None:
    assert rules.due_by(date(2026, 12, 3)) == date(2026, 12, 17)
    assert rules.due_by(date(2026, 12, 25), 10) == date(2027, 1, 4)


# ------------------------------------------------------------------------------------------------------- states
@pytest.mark.parametrize(
    ("current", "reported", "after"),
    [
        ("received", "in_review", "in_review"),
        ("received", "upheld", "upheld"),
        ("received", "dismissed", "dismissed"),
        ("in_review", "upheld", "upheld"),
        ("in_review", "dismissed", "dismissed"),
        ("in_review", "in_review", "in_review"),  # a replay
        ("upheld", "upheld", "upheld"),  # a replay
        ("upheld", "in_review", "upheld"),  # late: the decision stays
        ("dismissed", "in_review", "dismissed"),
    ],
)
def test_states_move_forward_only(current: str, reported: str, after: str) -> None:
    assert rules.next_state(current, reported) == after  # type: ignore[arg-type]


@pytest.mark.parametrize(("current", "reported"), [("upheld", "dismissed"), ("dismissed", "upheld")])
def test_a_second_different_decision_is_impossible(current: str, reported: str) -> None:
    with pytest.raises(ImpossibleTransition):
        rules.next_state(current, reported)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------- evidence
def test_pdf_jpeg_png_within_the_limits_are_taken() -> None:
    files = (evidence(PDF), evidence(JPEG, "image/jpeg", "foto.jpg"))
    assert rules.check_evidence(files) == files
    assert rules.check_evidence([evidence(PNG, "image/png", "kk.png")])
    assert rules.check_evidence([]) == ()


def test_a_png_renamed_pdf_is_refused_by_its_content() -> None:
    with pytest.raises(EvidenceRefused) as refused:
        rules.check_evidence([evidence(PNG, "application/pdf", "surat.pdf")])
    assert (refused.value.status, refused.value.code) == (415, "EVIDENCE_TYPE")
    assert "surat" not in refused.value.message  # names the file by position only


def test_html_declared_a_jpeg_is_refused() -> None:
    with pytest.raises(EvidenceRefused) as refused:
        rules.check_evidence([evidence(b"<html><script>x</script>", "image/jpeg", "a.jpg")])
    assert refused.value.code == "EVIDENCE_TYPE"


def test_an_oversized_file_is_refused() -> None:
    big = PDF + b"\x00" * (rules.EVIDENCE_MAX_BYTES - len(PDF) + 1)
    with pytest.raises(ValidationError):  # the contract's base64 bound refuses it first
        evidence(big)
    unchecked = Evidence.model_construct(
        filename="a.pdf", content_type="application/pdf", sha256=hashlib.sha256(big).hexdigest(),
        data=base64.b64encode(big).decode(),
    )  # fmt: skip
    with pytest.raises(EvidenceRefused) as refused:  # and the domain on its own
        rules.check_evidence([unchecked])
    assert (refused.value.status, refused.value.code) == (413, "EVIDENCE_TOO_LARGE")
    at_limit = PDF + b"\x00" * (rules.EVIDENCE_MAX_BYTES - len(PDF))
    assert rules.check_evidence([evidence(at_limit)])


def test_a_wrong_sha256_is_refused() -> None:
    with pytest.raises(EvidenceRefused) as refused:
        rules.check_evidence([evidence(PDF, sha=hashlib.sha256(b"other").hexdigest())])
    assert refused.value.code == "EVIDENCE_SHA256"


def test_more_than_two_files_or_bad_base64_or_empty_are_refused() -> None:
    with pytest.raises(EvidenceRefused) as many:
        rules.check_evidence([evidence(PDF)] * 3)
    assert many.value.code == "EVIDENCE_COUNT"
    broken = evidence(PDF).model_copy(update={"data": "!!!not base64!!!"})
    with pytest.raises(EvidenceRefused) as bad:
        rules.check_evidence([broken])
    assert bad.value.code == "EVIDENCE_ENCODING"
    with pytest.raises(EvidenceRefused) as empty:
        rules.check_evidence([evidence(b"")])
    assert empty.value.code == "EVIDENCE_EMPTY"


@pytest.mark.parametrize("text", ["a\x00b", "\u202eevil", "x" * 1001])
def test_reason_text_with_control_characters_or_too_long_is_refused(text: str) -> None:
    with pytest.raises(EvidenceRefused):
        rules.check_reason_text(text)


def test_reason_text_keeps_lines() -> None:
    assert rules.check_reason_text("  KK sudah diperbaiki\nlihat lampiran ") == "KK sudah diperbaiki\nlihat lampiran"


# ----------------------------------------------------------------------------------------- the progress fold
def verified(objection_id: uuid.UUID | None = None) -> IdentityVerified:
    return IdentityVerified(
        nomination_id=NID, nik="6408014501900001", full_name="Siti", birth_date=date(1990, 1, 5), sex="F",
        phone="+6281234567890", desa_code=DESA, occupation="nelayan", nominator=NOMINATOR, programme_regency="64.08",
        name_score=100, objection_id=objection_id,
    )  # fmt: skip


def rejected(objection_id: uuid.UUID | None = None, code: str = "DECEASED") -> IdentityRejected:
    return IdentityRejected(
        nomination_id=NID, reasons=(Reason(code=code, detail="x"),), full_name="Siti", nominator=NOMINATOR,
        desa_code=DESA, objection_id=objection_id,
    )  # fmt: skip


def confirmed(restored_by: uuid.UUID | None = None) -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=NID, membership_number="26000000001", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone="+6281234567890", desa_code=DESA, nominator=NOMINATOR,
        restored_by_objection=restored_by,
    )  # fmt: skip


def waitlisted() -> EnrolmentWaitlisted:
    return EnrolmentWaitlisted(
        nomination_id=NID, programme_year=2026, position=3, full_name="Siti", phone="+6281234567890",
        desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def ended() -> EnrolmentEnded:
    return EnrolmentEnded(
        nomination_id=NID, membership_number="26000000001", funding_source="APBD-KAB", programme_year=2026,
        reason="deceased", coverage_end=date(2026, 12, 31), full_name="Siti", phone="+6281234567890",
        desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def reviewed(state: str, ground: str = "rejected") -> ObjectionReviewed:
    at = datetime(2026, 12, 5, tzinfo=UTC)
    return ObjectionReviewed(
        objection_id=OBJ, nomination_id=NID, state=state, ground=ground, reason_code="data_corrected",  # type: ignore[arg-type]
        filed_at=at, reviewed_at=at, full_name="Siti", phone="+6281234567890", desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip


def fold(progress: Progress, *events: Payload) -> Progress:
    for event in events:
        progress = apply(progress, event)
    return progress


REJECTED = apply(Progress(), rejected())
OBJECTED = domain.objected(REJECTED, "rejected")


def test_a_re_run_that_verifies_replaces_the_rejection_and_the_nomination_goes_on() -> None:
    progress = fold(OBJECTED, reviewed("upheld"), verified(OBJ))
    assert (progress.outcome, progress.status, progress.reasons, progress.verified) == (None, "verified", (), True)
    assert fold(progress, confirmed()).status == "enrolled"
    assert fold(progress, waitlisted()).status == "waitlisted"


@pytest.mark.parametrize("order", list(itertools.permutations(["reviewed", "verified", "confirmed"])))
def test_the_re_run_ends_enrolled_in_any_order(order: tuple[str, ...]) -> None:
    events = {"reviewed": reviewed("upheld"), "verified": verified(OBJ), "confirmed": confirmed()}
    progress = fold(OBJECTED, *(events[name] for name in order))
    assert (progress.outcome, progress.objection_state, progress.membership_number) == (
        "enrolled",
        "upheld",
        "26000000001",
    )


def test_a_re_run_that_rejects_again_keeps_the_new_reasons() -> None:
    progress = fold(OBJECTED, reviewed("upheld"), rejected(OBJ, code="NAME_MISMATCH"))
    assert progress.outcome == "rejected" and progress.reasons[0]["code"] == "NAME_MISMATCH"
    with pytest.raises(ImpossibleTransition):  # a seat after the re-run rejected again contradicts it
        apply(progress, confirmed())
    # a second objection to the new rejection reopens it, and its re-run may verify
    second = fold(domain.objected(progress, "rejected"), verified(uuid.uuid4()), confirmed())
    assert second.outcome == "enrolled"


def test_a_result_carrying_the_objection_id_reopens_even_before_anything_else_is_known() -> None:
    progress = fold(REJECTED, verified(OBJ), confirmed())
    assert progress.outcome == "enrolled"


@pytest.mark.parametrize("outcome", [confirmed, waitlisted, ended])
def test_without_an_objection_the_old_exclusivity_holds(outcome: object) -> None:
    with pytest.raises(ImpossibleTransition):
        apply(REJECTED, outcome())  # type: ignore[operator]
    # a plain IdentityVerified (no objection_id) does not lift a rejection either
    assert fold(REJECTED, verified()).outcome == "rejected"


def test_a_dismissed_objection_keeps_the_exclusivity() -> None:
    with pytest.raises(ImpossibleTransition):
        fold(OBJECTED, reviewed("dismissed"), confirmed())


def test_a_re_run_rejection_after_a_seat_is_impossible() -> None:
    with pytest.raises(ImpossibleTransition):
        fold(OBJECTED, verified(OBJ), confirmed(), rejected(OBJ))


def test_an_ended_member_restored_by_an_upheld_objection_is_covered_again() -> None:
    ended_progress = domain.objected(fold(Progress(), verified(), confirmed(), ended()), "ended")
    assert ended_progress.status == "ended"
    assert apply(ended_progress, confirmed()).outcome == "ended"  # a redelivered confirmation: still ended
    restored = fold(ended_progress, reviewed("upheld", "ended"), confirmed(restored_by=OBJ))
    assert (restored.outcome, restored.end_reason) == ("enrolled", None)
    # in the other order too, and it can end again later
    restored = fold(ended_progress, confirmed(restored_by=OBJ), reviewed("upheld", "ended"))
    assert restored.outcome == "enrolled" and restored.objection_state == "upheld"
    assert apply(restored, ended()).outcome == "ended"


def test_a_late_in_review_never_undoes_the_decision() -> None:
    assert fold(OBJECTED, reviewed("dismissed"), reviewed("in_review")).objection_state == "dismissed"
    assert fold(OBJECTED, reviewed("in_review")).objection_state == "in_review"
