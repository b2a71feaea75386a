"""Objections (sanggahan): which reasons an upheld objection waives, and what its evidence must be.

An upheld objection on a rejection re-runs the nomination with a FRESH civil-registry answer. Reasons that are
facts of the registry, of the NIK or of the roster are checked again and never waived: the registry (or a corrected
record) decides them, not a verifier. Reasons that are a human judgement the verifier can clear with evidence are
waived when they were among the reasons objected to: a suspected duplicate the verifier found to be another
person, an occupation the verifier confirmed as informal, a supporting letter brought with the objection, a
reviewer's own earlier rejection.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from services.verification.domain.checks import CheckOutcome, _concluded
from services.verification.domain.decision import Decision
from services.verification.errors import EvidenceRefused

# Judgements an upholding verifier clears (when objected to). Everything else is re-checked, never waived:
# NIK_INVALID, PHONE_INVALID, AGE_OUT_OF_RANGE (the registry's birth date), DUPLICATE_PERSON (the same NIK is
# verified through another nomination: one person is never seated twice), REGISTRY_NOT_FOUND, DECEASED, INACTIVE,
# OUTSIDE_PROGRAMME_REGENCY, NAME_MISMATCH, BIRTH_DATE_MISMATCH (the fresh registry answer) and WAGE_EARNER (the
# roster as loaded now).
WAIVABLE = frozenset({"POSSIBLE_DUPLICATE", "OCCUPATION_NOT_INFORMAL", "LETTER_MISSING", "REVIEW_REJECTED"})

MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
MAX_EVIDENCE_BYTES = 300 * 1024


def waived_codes(objected: Iterable[str]) -> frozenset[str]:
    """The codes an upheld objection waives: those objected to (the rejection's reasons, and the review finding
    that sent it to a verifier) that are a judgement, not a registry fact."""
    return frozenset(objected) & WAIVABLE


def waive(decision: Decision, codes: frozenset[str]) -> Decision:
    """The decision with the findings of ``codes`` removed (each check concluded again from what is left)."""
    if not codes:
        return decision
    checks: list[CheckOutcome] = []
    for check in decision.checks:
        kept = tuple(f for f in check.findings if f.code not in codes)
        if len(kept) == len(check.findings):
            checks.append(check)
            continue
        concluded = _concluded(check.check, kept)
        checks.append(replace(concluded, note="waived by an upheld objection"))
    duplicates = () if "POSSIBLE_DUPLICATE" in codes else decision.duplicates
    return replace(decision, checks=tuple(checks), duplicates=duplicates)


@dataclass(frozen=True)
class EvidenceFile:
    filename: str
    content_type: str
    sha256: str
    data: bytes


def evidence_file(filename: str, content_type: str, sha256: str, data_b64: str) -> EvidenceFile:
    """The evidence's bytes, checked: valid base64, at most 300 KB, the sha256 stated, and content of the type
    stated (a PDF, a JPEG, a PNG by their first bytes). ``EvidenceRefused`` says which, never the content."""
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceRefused("evidence data is not valid base64") from None
    if not data:
        raise EvidenceRefused("evidence is empty")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise EvidenceRefused(f"evidence is larger than {MAX_EVIDENCE_BYTES} bytes")
    if hashlib.sha256(data).hexdigest() != sha256:
        raise EvidenceRefused("evidence sha256 does not match its data")
    if not data.startswith(MAGIC.get(content_type, (b"\x00invalid",))):
        raise EvidenceRefused(f"evidence content is not {content_type}")
    return EvidenceFile(safe_filename(filename), content_type, sha256, data)


def safe_filename(name: str) -> str:
    """A filename fit for a Content-Disposition header: ASCII letters, digits, dot, dash, underscore only."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name.strip())[:120]
    cleaned = cleaned.lstrip(".") or "bukti"
    return cleaned
