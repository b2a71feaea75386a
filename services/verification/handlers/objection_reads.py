"""Reading the objections queue, a case and its evidence: personal data, so every read is audited with the caller.

Through the workspace a case outside the reader's area is not shown (the refusal audited); through the API the
readers' roles see every case, as with reviews.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.verification.commands import InspectObjection, ObjectionQueue, ReadEvidence
from services.verification.domain import WITA
from services.verification.errors import ObjectionNotFound
from services.verification.repository import objections as repo
from services.verification.repository import verifications as verifications_repo
from shared import audit, reasons
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps


@dataclass(frozen=True)
class EvidenceDownload:
    filename: str
    content_type: str
    data: bytes


def _today() -> date:
    """Deadlines are days in Kalimantan Timur (WITA)."""
    return datetime.now(WITA).date()


def _description(code: str | None) -> str:
    try:
        return reasons.info(code or "").description
    except KeyError:
        return ""


async def objection_queue(deps: Deps, conn: Conn, cmd: ObjectionQueue) -> Handled[list[dict[str, Any]]]:
    """Cases by deadline, oldest first; ``overdue`` when the deadline has passed and the case is still open."""
    today = _today()
    rows = [dict(r) for r in await repo.queue(conn, cmd.state, cmd.limit)]
    if cmd.via == "workspace":
        rows = [r for r in rows if cmd.caller.covers(r["desa_code"])]
    for r in rows:
        r["overdue"] = r["state"] in ("received", "in_review") and r["due_by"] < today
    await audit.record(conn, cmd.caller, "objection.listed", None, {"state": cmd.state, "count": len(rows)})
    return Handled(rows)


async def inspect_objection(deps: Deps, conn: Conn, cmd: InspectObjection) -> Handled[dict[str, Any] | None]:
    """A case with the decision objected to, the objection's reason and text and its evidence (listed)."""
    case = await repo.get(conn, cmd.objection_id)
    if case is None:
        raise ObjectionNotFound("no such objection")
    if cmd.via == "workspace" and not cmd.caller.covers(case["desa_code"]):
        await audit.record(conn, cmd.caller, "objection.read_denied", str(cmd.objection_id), {"reason": "out_of_area"})
        return Handled(None)
    await audit.record(conn, cmd.caller, "objection.read", str(cmd.objection_id), {"via": cmd.via})
    decision = await verifications_repo.get_verification(conn, case["nomination_id"])
    filed = case["filed"]
    objected = case["objected"]
    original = {
        "outcome": objected.get("outcome"),
        "reasons": [{"code": c, "description": _description(c)} for c in objected.get("reasons", [])],
        "review_reasons": objected.get("review_reasons", []),
        "current_outcome": decision["outcome"] if decision else None,
        "current_reasons": list(decision["reasons"]) if decision else [],
        "checks": list(decision["checks"]) if decision else [],
    }
    evidence = [dict(e) for e in await repo.evidence_list(conn, cmd.objection_id)]
    return Handled(
        {
            "objection_id": case["objection_id"],
            "nomination_id": case["nomination_id"],
            "state": case["state"],
            "version": case["version"],
            "ground": case["ground"],
            "reason_code": case["reason_code"],
            "reason_text": case["reason_text"],
            "filed_by": case["filed_by"],
            "channel": case["channel"],
            "filed_at": case["filed_at"],
            "due_by": case["due_by"],
            "overdue": case["state"] in ("received", "in_review") and case["due_by"] < _today(),
            "desa_code": case["desa_code"],
            "full_name": filed.get("full_name"),
            "taken_by": case["taken_by"],
            "decided_by": case["decided_by"],
            "decided_at": case["decided_at"],
            "note": case["note"],
            "waived": list(case["waived"]),
            "result_event_id": case["result_event_id"],
            "original_decision": original,
            "evidence": evidence,
        }
    )


async def read_evidence(deps: Deps, conn: Conn, cmd: ReadEvidence) -> Handled[EvidenceDownload]:
    """One evidence file's bytes (served as an attachment by the routes), the read audited."""
    row = await repo.evidence(conn, cmd.objection_id, cmd.position)
    if row is None or (cmd.via == "workspace" and not cmd.caller.covers(row["desa_code"])):
        raise ObjectionNotFound("no such evidence")
    detail = {"position": cmd.position, "via": cmd.via}
    await audit.record(conn, cmd.caller, "objection.evidence_read", str(cmd.objection_id), detail)
    return Handled(EvidenceDownload(row["filename"], row["content_type"], bytes(row["data"])))
