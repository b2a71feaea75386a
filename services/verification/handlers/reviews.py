"""Review queue use cases: a Disnaker verifier inspects a case with its evidence and approves or rejects it.

A decision closes the case, sets the nomination's outcome, writes the audit rows (who, when, why) and returns the
event (``IdentityVerified`` or ``IdentityRejected``) for the outbox, all in one transaction: a decision is never
recorded without its event, nor announced without its audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson

from services.verification import domain
from services.verification.adapters.registry import from_json
from services.verification.commands import DecideReview, InspectReview, NoteConflict
from services.verification.domain import severities
from services.verification.errors import (
    InvalidReason,
    PersonAlreadyVerified,
    ReviewChanged,
    ReviewClosed,
    ReviewNotFound,
)
from services.verification.handlers.decide import PRODUCER
from services.verification.repository import reviews as reviews_repository
from services.verification.repository import verifications as repository
from shared import audit, reasons
from shared.contracts import NominationSubmitted, Reason, decode, new_envelope
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps


@dataclass(frozen=True)
class ReviewDecided:
    review_id: int
    status: str
    event_id: uuid.UUID
    event_type: str
    decided_at: Any


def mask_nik(nik: str | None) -> str | None:
    """The NIK as shown to verifiers: region and the last two digits only (``6408**********01``)."""
    return None if not nik else nik[:4] + "*" * (len(nik) - 6) + nik[-2:]


async def decide(deps: Deps, conn: Conn, cmd: DecideReview) -> Handled[ReviewDecided]:
    """Apply one verifier's decision. ``expected_version``: the case's version when the reviewer opened it; if it
    changed since, ``ReviewChanged`` (409) and nothing is written. Through the workspace, a case outside the
    reviewer's area is not found."""
    review_id, verdict, reason_code, expected_version = (
        cmd.review_id,
        cmd.verdict,
        cmd.reason_code,
        cmd.expected_version,
    )
    if verdict == "reject":
        if not reason_code:
            raise InvalidReason("a rejection needs a reason_code")
        if reason_code not in severities.REJECT_CODES:
            raise InvalidReason(f"reason_code {reason_code!r} is not a rejection code of the catalogue")
    case = await reviews_repository.get_review(conn, review_id, lock=True)
    if case is None or (cmd.via == "workspace" and not cmd.caller.covers(case["desa_code"])):
        raise ReviewNotFound(f"no review {review_id}")
    if expected_version is not None and case["version"] != expected_version:
        raise ReviewChanged(f"review {review_id} changed since it was opened (now {case['status']})")
    if case["status"] != "open":
        raise ReviewClosed(f"review {review_id} is already {case['status']}")
    submitted = decode(orjson.dumps(case["envelope"]), NominationSubmitted)
    nomination = submitted.payload
    if verdict == "approve":
        verified = await repository.verified_people(conn, [case["person_key"]], besides=[nomination.nomination_id])
        if verified:
            raise PersonAlreadyVerified("the person is verified, in review or pending through another nomination")
        flags = [Reason(**f) for f in case["flags"]]
        payload: Any = domain.verified_event(nomination, from_json(case["record"]), case["name_score"] or 0, flags)
        outcome, found = "verified", []
    else:
        assert reason_code is not None
        detail = f"Rejected after review by a Disnaker verifier: {reasons.info(reason_code).description}"
        found = [Reason(code=reason_code, detail=detail)]
        payload = domain.rejected_event(nomination, found)
        outcome = "rejected"
    envelope = new_envelope(
        payload,
        producer=PRODUCER,
        person_key=case["person_key"],
        correlation_id=nomination.nomination_id,
        causation_id=submitted.event_id,
    )
    await repository.set_outcome(
        conn, nomination.nomination_id, outcome, [r.model_dump() for r in found], envelope.event_id
    )
    status = "approved" if verdict == "approve" else "rejected"
    await reviews_repository.close_review(conn, review_id, status)
    decision = await reviews_repository.audit_decision(
        conn, review_id, verdict, reason_code, cmd.note, cmd.caller.name, envelope.event_id
    )
    done: dict[str, str] = {"decision": verdict} if cmd.via == "api" else {"decision": verdict, "via": "workspace"}
    await audit.record(conn, cmd.caller, "review.decided", str(review_id), done)
    decided = ReviewDecided(review_id, status, envelope.event_id, envelope.event_type, decision["decided_at"])
    return Handled(decided, [envelope])


async def note_conflict(deps: Deps, conn: Conn, cmd: NoteConflict) -> Handled[None]:
    await audit.record(conn, cmd.caller, "review.decision_conflict", str(cmd.review_id), {"decision": cmd.verdict})
    return Handled(None)


async def inspect_review(deps: Deps, conn: Conn, cmd: InspectReview) -> Handled[dict[str, Any] | None]:
    """A case for the caller, audited. Through the workspace, a case outside the caller's area is None (the
    refusal audited)."""
    case = await inspect(conn, cmd.review_id)
    if cmd.via == "api":
        await audit.record(conn, cmd.caller, "review.read", str(cmd.review_id))
        return Handled(case)
    if not cmd.caller.covers(case["nomination"]["desa_code"]):
        await audit.record(conn, cmd.caller, "review.read_denied", str(cmd.review_id), {"reason": "out_of_area"})
        return Handled(None)
    await audit.record(conn, cmd.caller, "review.read", str(cmd.review_id), {"via": "workspace"})
    return Handled(case)


async def inspect(conn: Conn | asyncpg.Pool, review_id: int) -> dict[str, Any]:
    """The case with the evidence side by side: this nomination's record and each probable other record."""
    case = await reviews_repository.get_review(conn, review_id)
    if case is None:
        raise ReviewNotFound(f"no review {review_id}")
    nomination = case["envelope"]["payload"]
    record = case["record"]
    evidence = case["evidence"]
    others = {
        r["nomination_id"]: r
        for r in await reviews_repository.other_records(conn, [uuid.UUID(e["other_nomination_id"]) for e in evidence])
    }
    this = {
        "nomination_id": str(case["nomination_id"]),
        "nik_masked": mask_nik(record.get("nik")),
        "full_name": record.get("nama_lgkp"),
        "stated_name": nomination["full_name"],
        "birth_date": record.get("tgl_lhr"),
        "desa_code": case["desa_code"],
        "no_kk_masked": mask_nik(record.get("no_kk")),
    }
    compared = []
    for e in evidence:
        other = others.get(uuid.UUID(e["other_nomination_id"]))
        compared.append(
            {
                "nomination_id": e["other_nomination_id"],
                "nik_masked": mask_nik(other["nik"]) if other else None,
                "full_name": other["full_name"] if other else None,
                "birth_date": other["birth_date"].isoformat() if other and other["birth_date"] else None,
                "desa_code": other["desa_code"] if other else None,
                "verified_at": other["decided_at"] if other else None,
                "name_score": e["name_score"],
                "same_birth_date": e["same_birth_date"],
                "kk_match": e["same_kk"],
                "same_desa": e["same_desa"],
            }
        )
    decisions = [dict(d) for d in await reviews_repository.decisions_of(conn, review_id)]
    return {
        "id": case["id"],
        "status": case["status"],
        "version": case["version"],
        "layer": case["layer"],
        "reasons": case["reasons"],
        "flags": case["flags"],
        "registry_name_score": case["name_score"],
        "created_at": case["created_at"],
        "decided_at": case["decided_at"],
        "nomination": this,
        "candidates": compared,
        "decisions": decisions,
    }
