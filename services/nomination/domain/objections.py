"""Objections (sanggahan): who may object to what, the deadline, the states, and the evidence files (pure rules).

- A nomination verification rejected may be objected to (ground ``rejected``), and one whose cover ended (ground
  ``ended``). A registration BPJS refused is not: the official corrects it and sends it again (``CORRECTABLE``),
  because verification, which decides objections, cannot overturn BPJS's refusal. Nothing undecided is objectable.
- One open objection per nomination (``received`` or ``in_review``). After a decision one more is allowed, so at
  most ``MAX_OBJECTIONS`` (2) per nomination: the second is the appeal of a dismissal or of a re-run that rejected
  again; a third would turn the service level into a loop.
- A person nominated again since this nomination (a newer nomination of the same person key) may not object to the
  old one: the newer nomination is the live case, and re-verifying the old one would give the person two.
- Deadline: ``due_by`` = the filing date (WITA) + ``objection_sla_days`` (14 by default).
- States: received -> in_review -> upheld | dismissed (received -> upheld | dismissed directly too). A decision is
  final; the same state again is a replay and changes nothing; an ``in_review`` arriving after the decision is late
  and changes nothing either (events come in any order); another decision after a decision is impossible.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.nomination.errors import EvidenceRefused, ImpossibleTransition, NotObjectable
from shared.contracts import Evidence, ObjectionGround, ObjectionState

SLA_DAYS = 14
MAX_OBJECTIONS = 2
MAX_EVIDENCE_FILES = 2
EVIDENCE_MAX_BYTES = 300_000  # 300 KB: its base64 fits the contract's 400,000 characters
REASON_TEXT_MAX = 1000
OPEN: frozenset[ObjectionState] = frozenset({"received", "in_review"})
DECIDED: frozenset[ObjectionState] = frozenset({"upheld", "dismissed"})
_NEXT: dict[ObjectionState, frozenset[ObjectionState]] = {
    "received": frozenset({"in_review", "upheld", "dismissed"}),
    "in_review": frozenset({"upheld", "dismissed"}),
    "upheld": frozenset(),
    "dismissed": frozenset(),
}
_MAGIC: dict[str, bytes] = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}


@dataclass(frozen=True)
class ObjectionSummary:
    """What the self-check and the portal tell of a nomination's latest objection."""

    objection_id: uuid.UUID
    state: ObjectionState
    due_by: date


def ground_of(outcome: str | None) -> ObjectionGround:
    """The ground of an objection to a nomination with this outcome, or ``NotObjectable``."""
    if outcome == "rejected":
        return "rejected"
    if outcome == "ended":
        return "ended"
    if outcome == "refused":
        raise NotObjectable(
            "REFUSED_BY_BPJS", "a registration BPJS refused is corrected and sent again, not objected to"
        )
    raise NotObjectable("NOT_DECIDED", "only a rejected nomination or an ended cover may be objected to")


def check_objectable(
    outcome: str | None, earlier: Sequence[ObjectionSummary], newer_nomination: bool
) -> ObjectionGround:
    """The ground of a new objection to a nomination with this ``outcome`` and these ``earlier`` objections (any
    order), or ``NotObjectable`` saying why not."""
    ground = ground_of(outcome)
    if any(o.state in OPEN for o in earlier):
        raise NotObjectable("OBJECTION_OPEN", "an objection to this nomination is still open")
    if len(earlier) >= MAX_OBJECTIONS:
        raise NotObjectable("OBJECTIONS_EXHAUSTED", f"at most {MAX_OBJECTIONS} objections per nomination")
    if newer_nomination:
        raise NotObjectable("NEWER_NOMINATION", "a newer nomination exists for this person")
    return ground


def due_by(filed_on: date, sla_days: int = SLA_DAYS) -> date:
    """The decision deadline told to the person."""
    return filed_on + timedelta(days=sla_days)


def next_state(current: ObjectionState, reported: ObjectionState) -> ObjectionState:
    """The state after verification reported ``reported`` for an objection that is ``current``; ``ImpossibleTransition``
    for a second, different decision (or a report of ``received``, which only this service sets)."""
    if reported == current or (current in DECIDED and reported in OPEN and reported != "received"):
        return current  # a replay, or an ``in_review`` arriving after its decision: nothing changes
    if reported not in _NEXT[current]:
        raise ImpossibleTransition(f"objection {current} cannot become {reported}")
    return reported


def check_reason_text(value: str) -> str:
    """Free text of the person or the official: at most 1000 characters, no control or format characters."""
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > REASON_TEXT_MAX:
        raise EvidenceRefused(422, "REASON_TOO_LONG", f"reason_text may be at most {REASON_TEXT_MAX} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\n\t" for c in value):
        raise EvidenceRefused(422, "REASON_TEXT", "reason_text must not contain control characters")
    return value


def check_evidence(items: Sequence[Evidence]) -> tuple[Evidence, ...]:
    """At most 2 files, each PDF/JPEG/PNG by its magic bytes (not its name), at most 300 KB, its sha256 right.

    The declared ``content_type`` must be what the bytes are (a PNG named ``surat.pdf`` and declared a PDF is
    refused). ``EvidenceRefused`` names the file by its position, never by its name or content.
    """
    if len(items) > MAX_EVIDENCE_FILES:
        raise EvidenceRefused(422, "EVIDENCE_COUNT", f"at most {MAX_EVIDENCE_FILES} evidence files")
    for index, item in enumerate(items):
        content = evidence_bytes(item, index)
        if not content:
            raise EvidenceRefused(422, "EVIDENCE_EMPTY", f"evidence[{index}] is empty")
        if len(content) > EVIDENCE_MAX_BYTES:
            raise EvidenceRefused(413, "EVIDENCE_TOO_LARGE", f"evidence[{index}] is over {EVIDENCE_MAX_BYTES} bytes")
        if not content.startswith(_MAGIC[item.content_type]):
            raise EvidenceRefused(415, "EVIDENCE_TYPE", f"evidence[{index}] is not the PDF/JPEG/PNG it claims to be")
        if hashlib.sha256(content).hexdigest() != item.sha256:
            raise EvidenceRefused(422, "EVIDENCE_SHA256", f"evidence[{index}]'s sha256 does not match its content")
    return tuple(items)


def evidence_bytes(item: Evidence, index: int = 0) -> bytes:
    """The decoded file (strict standard base64), or ``EvidenceRefused``."""
    try:
        return base64.b64decode(item.data, validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceRefused(422, "EVIDENCE_ENCODING", f"evidence[{index}] is not valid base64") from None


def sniff(content: bytes) -> str | None:
    """The evidence media type the content's magic bytes show, or None."""
    return next((media for media, magic in _MAGIC.items() if content.startswith(magic)), None)
