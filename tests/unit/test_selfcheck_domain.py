"""Self-check status derivation (services/nomination/domain/selfcheck.py): every state, the choice among several
nominations of one NIK, the Bahasa texts, the objection's fields and the evidence check."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from services.nomination.domain import Progress
from services.nomination.domain.selfcheck import (
    Candidate,
    choose,
    evidence,
    explain,
    lines,
    objectable,
    status_of,
)
from shared.contracts import ObjectionState

BORN = date(1990, 1, 5)


def candidate(outcome: str | None, day: int, born: date = BORN) -> Candidate:
    return Candidate(uuid.uuid4(), born, outcome, Progress(outcome=outcome), datetime(2026, 1, day, tzinfo=UTC))


@dataclass(frozen=True)
class Objection:
    objection_id: uuid.UUID
    state: ObjectionState
    due_by: date


def test_every_state() -> None:
    assert status_of(Progress()).state == "in_process"
    assert status_of(Progress(in_review=True)).state == "in_process"
    assert status_of(Progress(verified=True)).state == "verified"
    waiting = status_of(Progress(verified=True, outcome="waitlisted", waitlist_position=7))
    assert (waiting.state, waiting.waitlist_position) == ("waitlisted", 7)
    covered = status_of(
        Progress(verified=True, outcome="enrolled", membership_number="26000000001"), covered_since=date(2026, 2, 1)
    )
    assert (covered.state, covered.membership_number, covered.covered_since) == (
        "covered",
        "26000000001",
        date(2026, 2, 1),
    )
    rejected = status_of(Progress(outcome="rejected", reasons=({"code": "DECEASED"}, {"code": "AGE_OVER_LIMIT"})))
    assert (rejected.state, rejected.reason_codes) == ("not_eligible", ("DECEASED", "AGE_OVER_LIMIT"))
    refused = status_of(Progress(verified=True, outcome="refused", end_reason="bpjs_refused:PU_ACTIVE"))
    assert (refused.state, refused.reason_codes) == ("not_eligible", ("BPJS_REFUSED:PU_ACTIVE",))
    ended = status_of(
        Progress(outcome="ended", end_reason="moved_out", membership_number="26000000001"),
        covered_since=date(2026, 2, 1),
        covered_until=date(2026, 11, 30),
    )
    assert (ended.state, ended.covered_until, ended.reason_codes) == ("ended", date(2026, 11, 30), ("moved_out",))
    # a notified outcome is still that outcome
    assert status_of(Progress(outcome="enrolled", notified_purposes=frozenset({"enrolment_confirmed"}))).state == (
        "covered"
    )


def test_a_status_says_nothing_but_the_status() -> None:
    rejected = status_of(Progress(outcome="rejected", reasons=({"code": "DECEASED", "detail": "registry: x"},)))
    dumped = rejected.model_dump()
    assert "detail" not in str(dumped) and dumped["membership_number"] is None


def test_the_live_nomination_answers_else_the_newest() -> None:
    old_rejected, live, newer_rejected = candidate("rejected", 1), candidate(None, 2), candidate("rejected", 3)
    assert choose([old_rejected, live, newer_rejected], BORN) == live
    assert choose([old_rejected, newer_rejected], BORN) == newer_rejected
    assert choose([candidate("enrolled", 1), candidate("ended", 5)], BORN).outcome == "enrolled"  # type: ignore[union-attr]


def test_a_birth_date_that_does_not_match_finds_nothing() -> None:
    assert choose([candidate(None, 1)], date(1990, 1, 6)) is None
    assert choose([], BORN) is None
    # two nominations with different birth dates: only the matching one answers
    other = candidate(None, 2, born=date(1991, 1, 5))
    mine = candidate("rejected", 1)
    assert choose([other, mine], BORN) == mine


def test_objection_fields_and_whether_one_may_be_filed() -> None:
    oid = uuid.uuid4()
    rejected = Progress(outcome="rejected", reasons=({"code": "DECEASED"},))
    assert objectable(status_of(rejected))
    assert objectable(status_of(Progress(outcome="ended", end_reason="deceased")))
    assert not objectable(status_of(Progress(outcome="enrolled")))
    assert not objectable(status_of(Progress()))
    pending = status_of(rejected, objection=Objection(oid, "in_review", date(2026, 3, 1)))
    assert (pending.objection_id, pending.objection_state, pending.objection_due_by) == (
        oid,
        "in_review",
        date(2026, 3, 1),
    )
    assert not objectable(pending)  # one open at a time
    assert any("1 Maret 2026" in line for line in lines(pending))
    assert objectable(status_of(rejected, objection=Objection(oid, "dismissed", date(2026, 3, 1))))


def test_texts_are_plain_bahasa() -> None:
    covered = status_of(Progress(outcome="enrolled", membership_number="26000000001"), covered_since=date(2026, 2, 1))
    text = " ".join(lines(covered))
    assert "26000000001" in text and "1 Februari 2026" in text
    assert "penerima upah" in explain("BPJS_REFUSED:PU_ACTIVE")
    assert "pindah" in explain("moved_out")
    assert explain("NO_SUCH_CODE")  # a generic text, never empty
    waiting = lines(status_of(Progress(outcome="waitlisted", waitlist_position=3)))
    assert "nomor 3" in waiting[0]


@pytest.mark.parametrize(
    ("content", "ok"),
    [
        (b"%PDF-1.4 x", True),
        (b"\xff\xd8\xff\xe0 jpeg", True),
        (b"\x89PNG\r\n\x1a\n png", True),
        (b"<script>", False),
        (b"MZ\x90\x00", False),
        (b"%PDF-" + b"x" * (300 * 1024), False),
    ],
)
def test_evidence_is_checked_by_content_and_size(content: bytes, ok: bool) -> None:
    found = evidence("../../surat kk.pdf", content)
    assert (not isinstance(found, str)) is ok
    if not isinstance(found, str):
        assert "/" not in found.filename and len(found.sha256) == 64
    else:
        assert "script" not in found
