"""Pure rules of objections (sanggahan): what an upheld objection waives, what evidence is accepted, and where an
ended member goes when their seat is restored (the fairness rule of docs/outreach.md)."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from services.enrolment import domain as enrolment
from services.verification.domain import objections as rules
from services.verification.domain.checks import CheckOutcome
from services.verification.domain.decision import Decision
from services.verification.errors import EvidenceRefused
from shared.contracts import Reason

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


def reason(code: str) -> Reason:
    return Reason(code=code, detail=code.lower())


def decision(*checks: CheckOutcome) -> Decision:
    return Decision(checks=tuple(checks), name_score=95.0, record=None)


# ------------------------------------------------------------------------------------------------ waiver


def test_only_judgements_that_were_objected_to_are_waived() -> None:
    objected = ["POSSIBLE_DUPLICATE", "NAME_MISMATCH", "OCCUPATION_NOT_INFORMAL", "DUPLICATE_PERSON"]
    assert rules.waived_codes(objected) == {"POSSIBLE_DUPLICATE", "OCCUPATION_NOT_INFORMAL"}
    assert rules.waived_codes(["DECEASED", "REGISTRY_NOT_FOUND", "WAGE_EARNER", "NIK_INVALID"]) == frozenset()


def test_a_cleared_duplicate_suspicion_no_longer_sends_the_case_to_review() -> None:
    fresh = decision(
        CheckOutcome("nik_structure", "passed"),
        CheckOutcome("possible_duplicate", "review", (reason("POSSIBLE_DUPLICATE"),)),
    )
    assert fresh.outcome == "in_review"
    waived = rules.waive(fresh, frozenset({"POSSIBLE_DUPLICATE"}))
    assert waived.outcome == "verified"
    assert waived.checks[1].status == "passed" and waived.checks[1].note == "waived by an upheld objection"


def test_a_fresh_registry_finding_is_never_waived() -> None:
    fresh = decision(
        CheckOutcome("occupation", "failed", (reason("OCCUPATION_NOT_INFORMAL"),)),
        CheckOutcome("registry_status", "failed", (reason("DECEASED"),)),
    )
    waived = rules.waive(fresh, rules.waived_codes(["OCCUPATION_NOT_INFORMAL", "DECEASED"]))
    assert waived.outcome == "rejected"
    assert [r.code for r in waived.reasons] == ["DECEASED"]


def test_a_flag_left_on_a_waived_check_keeps_it_flagged() -> None:
    fresh = decision(CheckOutcome("nik_structure", "failed", (reason("LETTER_MISSING"), reason("SEX_MISMATCH"))))
    waived = rules.waive(fresh, frozenset({"LETTER_MISSING"}))
    assert waived.outcome == "verified" and waived.checks[0].status == "flagged"
    assert [f.code for f in waived.flags] == ["SEX_MISMATCH"]


# ------------------------------------------------------------------------------------------------ evidence


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_evidence_is_decoded_and_checked() -> None:
    found = rules.evidence_file("surat kades.pdf", "application/pdf", hashlib.sha256(PDF).hexdigest(), b64(PDF))
    assert found.data == PDF and found.filename == "surat_kades.pdf"


@pytest.mark.parametrize(
    ("content_type", "data", "sha", "message"),
    [
        ("application/pdf", "not base64!", None, "base64"),
        ("application/pdf", b64(PDF), "0" * 64, "sha256"),
        ("image/png", b64(PDF), None, "not image/png"),
        ("application/pdf", b64(b"<html><script>alert(1)</script>"), None, "not application/pdf"),
        ("application/pdf", b64(b"%PDF-" + b"x" * (300 * 1024)), None, "larger"),
        ("application/pdf", "", None, "empty"),
    ],
)
def test_evidence_that_is_not_what_it_says_is_refused(
    content_type: str, data: str, sha: str | None, message: str
) -> None:
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raw = b""
    with pytest.raises(EvidenceRefused, match=message):
        rules.evidence_file("bukti.pdf", content_type, sha or hashlib.sha256(raw).hexdigest(), data)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ('a"; x=y.pdf', "a___x_y.pdf"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("...", "bukti"),
        ("KK baru.png", "KK_baru.png"),
    ],
)
def test_evidence_filenames_are_safe_for_a_header(name: str, safe: str) -> None:
    assert rules.safe_filename(name) == safe


# ------------------------------------------------------------------------------------------------ restoration


def source(code: str, quota: int, used: int, priority: int) -> enrolment.SourceState:
    return enrolment.SourceState(code, quota, used, priority)


def test_the_source_that_covered_the_member_comes_first_when_it_has_room() -> None:
    sources = [source("APBD-KAB", 10, 5, 1), source("APBD-PROV", 10, 9, 2)]
    assert enrolment.restoration_source(sources, "APBD-PROV") == "APBD-PROV"


def test_else_the_programmes_order_of_sources_as_seating_does() -> None:
    sources = [source("APBD-PROV", 10, 3, 2), source("APBD-KAB", 10, 10, 1), source("DESA", 5, 1, 3)]
    assert enrolment.restoration_source(sources, "APBD-KAB") == "APBD-PROV"


def test_no_room_anywhere_means_a_waitlist_place() -> None:
    assert enrolment.restoration_source([source("APBD-KAB", 2, 2, 1)], "APBD-KAB") is None


def test_restored_members_wait_ahead_of_everyone_in_the_order_of_their_original_seats() -> None:
    regular = [1, 2, 500_000]
    restored = sorted([enrolment.restored_position(40), enrolment.restored_position(7)])
    assert restored == [enrolment.restored_position(7), enrolment.restored_position(40)]
    assert max(restored) < min(regular)
    waiting = [enrolment.Waiting(uuid.uuid4(), p) for p in [*regular, *restored]]
    seats = enrolment.promotions([source("APBD-KAB", 10, 8, 1)], waiting)  # two seats free, five waiting
    assert [s.nomination_id for s in seats] == [waiting[3].nomination_id, waiting[4].nomination_id]


def test_ends_an_objection_cannot_undo() -> None:
    assert {"deceased", "moved_out", "became_wage_earner", "inactive"} == enrolment.RESTORABLE
    for reason_ in ("opted_out", "contributions_unpaid", "not_renewed"):
        assert reason_ not in enrolment.RESTORABLE
