"""Review queue use cases: a Disnaker verifier inspects a case with its evidence and approves or rejects it.

A decision closes the case, sets the nomination's outcome, writes the audit row (who, when, why) and the event
(``IdentityVerified`` or ``IdentityRejected``) to the outbox, all in one transaction: a decision is never recorded
without its event, nor announced without its audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg
import orjson

from services.verification import domain, repository, reviews_repository
from services.verification.handlers import PRODUCER
from services.verification.registry import from_json
from shared import outbox, reasons
from shared.contracts import NominationSubmitted, Reason, decode, new_envelope
from shared.db import Conn
from shared.errors import PayungError

Verdict = Literal["approve", "reject"]


class ReviewError(PayungError):
    status_code = 400


class ReviewNotFound(ReviewError):
    status_code = 404


class ReviewClosed(ReviewError):
    status_code = 409


class ReviewChanged(ReviewError):
    """Optimistic concurrency: the case changed (another reviewer decided it) since the reviewer opened it."""

    status_code = 409


class InvalidReason(ReviewError):
    status_code = 422


class PersonAlreadyVerified(ReviewError):
    status_code = 409


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


async def decide(
    conn: Conn,
    review_id: int,
    verdict: Verdict,
    reason_code: str | None,
    note: str,
    reviewer: str,
    topic_prefix: str,
    expected_version: int | None = None,
) -> ReviewDecided:
    """Apply one verifier's decision (call inside a transaction). ``expected_version``: the case's version when
    the reviewer opened it; if it changed since, ``ReviewChanged`` (409) and nothing is written."""
    if verdict == "reject":
        if not reason_code:
            raise InvalidReason("a rejection needs a reason_code")
        if reason_code not in reasons.REJECT_CODES:
            raise InvalidReason(f"reason_code {reason_code!r} is not a rejection code of the catalogue")
    case = await reviews_repository.get_review(conn, review_id, lock=True)
    if case is None:
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
    audit = await reviews_repository.audit_decision(
        conn, review_id, verdict, reason_code, note, reviewer, envelope.event_id
    )
    await outbox.add_events(conn, [envelope], topic_prefix)
    return ReviewDecided(review_id, status, envelope.event_id, envelope.event_type, audit["decided_at"])


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
