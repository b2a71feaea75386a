"""Objections (sanggahan): filing one (``file_objection``: portal, API, self-check page, SMS/WhatsApp), reading a
nomination's objections, and recording verification's review of one (``record_review``, from the progress group).

The rules are domain/objections.py's; this module loads, asks, saves and returns ``ObjectionFiled``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import asyncpg

from services.nomination import domain
from services.nomination.commands import FileObjection, ReadObjections
from services.nomination.domain import objections as rules
from services.nomination.errors import ImpossibleTransition, InconsistentEvent, NotObjectable
from services.nomination.handlers import access
from services.nomination.repository import nominations
from services.nomination.repository import objections as repo
from shared import audit
from shared.auth import Principal, system
from shared.contracts import Envelope, Nominator, ObjectionFiled, ObjectionReviewed, ObjectionState, new_envelope
from shared.db import Conn
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps

log = get_logger(__name__)
PRODUCER = "nomination"
WITA = ZoneInfo("Asia/Makassar")


@dataclass(frozen=True)
class ObjectionReceipt:
    objection_id: uuid.UUID
    state: ObjectionState
    due_by: date


async def file_objection(deps: Deps, conn: Conn, command: FileObjection) -> Handled[ObjectionReceipt]:
    """Store an objection and give ``ObjectionFiled`` back (keyed by the nomination's person key, correlated by its
    id). ``NotObjectable`` when the rules refuse it (code ``NOT_FOUND``: no such nomination; ``OUT_OF_AREA``: the
    caller's area does not cover it); ``EvidenceRefused`` for a bad file or text. Either raise rolls everything
    back: nothing is stored (a route audits an official's refusal with ``audit_refusal``). Every check runs before
    the first write, so a caller running this inside its own transaction (the keyword consumer) may catch the
    refusal and go on: no SQL failed, the transaction is still usable."""
    nomination = await repo.nomination_for_objection(conn, command.nomination_id)
    if nomination is None:
        raise NotObjectable("NOT_FOUND", "no such nomination")
    caller = command.caller
    if caller is not None and not domain.covers(caller.area, nomination["desa_code"]):
        raise NotObjectable("OUT_OF_AREA", "this nomination lies outside the caller's area")
    earlier = repo.summaries(await repo.of_nomination(conn, command.nomination_id))
    ground = rules.check_objectable(nomination["outcome"], earlier, bool(nomination["newer"]))
    reason_text = rules.check_reason_text(command.reason_text)
    evidence = rules.check_evidence(command.evidence)
    filed_at = datetime.now(UTC)
    due_by = rules.due_by(filed_at.astimezone(WITA).date(), deps.settings.objection_sla_days)
    objection_id = uuid.uuid4()
    row = {
        "id": objection_id,
        "nomination_id": command.nomination_id,
        "ground": ground,
        "filed_by": command.filed_by,
        "channel": command.channel,
        "reason_code": command.reason_code,
        "reason_text": reason_text,
        "filed_by_principal": None if caller is None else caller.name,
        "filed_at": filed_at,
        "due_by": due_by,
    }
    files = [(i, e.filename, e.content_type, e.sha256, rules.evidence_bytes(e, i)) for i, e in enumerate(evidence)]
    await repo.insert(conn, row, files)
    progress = await nominations.lock_progress(conn, [command.nomination_id])
    objected = {command.nomination_id: domain.objected(progress[command.nomination_id], ground)}
    await nominations.save_progress(conn, objected)
    payload = ObjectionFiled(
        objection_id=objection_id,
        nomination_id=command.nomination_id,
        ground=ground,
        filed_by=command.filed_by,
        channel=command.channel,
        reason_code=command.reason_code,
        reason_text=reason_text,
        evidence=evidence,
        filed_at=filed_at,
        due_by=due_by,
        full_name=nomination["full_name"],
        phone=nomination["phone"],
        desa_code=nomination["desa_code"],
        nominator=Nominator.model_validate(nomination["nominator"]),
    )
    key = nomination["person_key"]
    envelope = new_envelope(payload, producer=PRODUCER, person_key=key, correlation_id=command.nomination_id)
    detail = {
        "objection_id": str(objection_id),
        "ground": ground,
        "channel": command.channel,
        "filed_by": command.filed_by,
        "reason_code": command.reason_code,
        "evidence_files": len(evidence),
        "evidence_sha256": [hashlib.sha256(f[4]).hexdigest()[:16] for f in files],
    }
    await audit.record(conn, caller or system(PRODUCER), "objection.filed", command.nomination_id, detail)
    log.info("objection filed", objection_id=str(objection_id), nomination_id=str(command.nomination_id))
    return Handled(ObjectionReceipt(objection_id, "received", due_by), [envelope])


@dataclass(frozen=True)
class RefusalAudit:
    """A refused filing by an official, audited in a transaction of its own (the refused one rolled back)."""

    caller: Principal
    nomination_id: uuid.UUID
    code: str


async def audit_refusal(deps: Deps, conn: Conn, command: RefusalAudit) -> Handled[None]:
    await audit.record(conn, command.caller, "objection.file_refused", command.nomination_id, {"code": command.code})
    return Handled(None)


async def read(deps: Deps, conn: Conn, command: ReadObjections) -> Handled[list[asyncpg.Record] | None]:
    """A nomination's objections for the caller (None when absent or outside its area), audited."""
    row = await nominations.desa_and_outcome(conn, command.nomination_id)
    if row is None or not await access.allowed(
        conn, command.caller, row["desa_code"], denied="objection.read_denied", subject=command.nomination_id
    ):
        return Handled(None)
    found = await repo.of_nomination(conn, command.nomination_id)
    await audit.record(conn, command.caller, "objection.read", command.nomination_id, {"count": len(found)})
    return Handled(found)


async def record_review(conn: Conn, event: Envelope[Any]) -> None:
    """Verification's report on an objection (``ObjectionReviewed``, folded by the progress group): the state,
    note and review time. ``InconsistentEvent`` (dead letter) for an objection this service never filed, one that
    names another nomination, or a second, different decision."""
    payload: ObjectionReviewed = event.payload
    found = await repo.lock(conn, payload.objection_id)
    if found is None or found["nomination_id"] != payload.nomination_id:
        raise InconsistentEvent(f"ObjectionReviewed {event.event_id} names an objection this service never filed")
    try:
        state = rules.next_state(found["state"], payload.state)
    except ImpossibleTransition as exc:
        raise InconsistentEvent(f"ObjectionReviewed {event.event_id}: {exc}") from None
    if state != found["state"]:
        await repo.review(conn, payload.objection_id, state, payload.note, payload.reviewed_at)
