"""HTTP API of objections (sanggahan) and leads (docs/outreach.md): an official files an objection to a rejected
nomination or an ended cover of its area and reads a nomination's objections; lists the leads of its area and
marks them. The portal's pages (api/portal_outreach.py) run the same commands."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from services.nomination.api.rest import Caller, DepsDep, Problem
from services.nomination.bootstrap import Deps
from services.nomination.commands import FileObjection, ListLeads, MarkLead, ReadObjections, Strict
from services.nomination.errors import EvidenceRefused, NotObjectable
from services.nomination.handlers import leads, objections
from shared import messaging
from shared.contracts import Evidence, ObjectionReason
from shared.http import problem

router = APIRouter(prefix="/v1/nominations", tags=["objections"])
leads_router = APIRouter(prefix="/v1/leads", tags=["leads"])
# The JSON body of an objection: two files of at most 300 KB as base64, the text and the framing.
OBJECTION_MAX_BODY = 2 * 400_000 + 8 * 1024
_NOT_OBJECTABLE_STATUS = {"NOT_FOUND": 404, "OUT_OF_AREA": 403}


class ObjectionIn(Strict):
    reason_code: ObjectionReason
    reason_text: str = Field(default="", max_length=1000)
    evidence: tuple[Evidence, ...] = Field(default=(), max_length=2)


class ObjectionOut(BaseModel):
    objection_id: uuid.UUID
    state: str
    due_by: date


class ObjectionView(BaseModel):
    objection_id: uuid.UUID
    ground: str
    filed_by: str
    channel: str
    reason_code: str
    state: str
    note: str
    filed_at: Any
    due_by: date
    reviewed_at: Any
    evidence_files: int


class LeadView(BaseModel):
    lead_id: uuid.UUID
    desa_code: str
    full_name: str
    phone: str
    occupation: str
    channel: str
    state: str
    nominated: bool
    received_at: Any


class MarkIn(Strict):
    state: Literal["contacted", "nominated"]


async def file(deps: Deps, command: FileObjection) -> ObjectionOut | JSONResponse:
    """Run ``file_objection``; a refusal is a problem document (and, for an official, an audit row)."""
    try:
        receipt = await messaging.run(deps, objections.file_objection, command)
    except NotObjectable as exc:
        if command.caller is not None:
            refusal = objections.RefusalAudit(caller=command.caller, nomination_id=command.nomination_id, code=exc.code)
            await messaging.run(deps, objections.audit_refusal, refusal)
        if exc.code == "NOT_FOUND":
            return problem(404, "No such nomination")
        return problem(_NOT_OBJECTABLE_STATUS.get(exc.code, 409), exc.reason, code=exc.code)
    except EvidenceRefused as exc:
        return problem(exc.status, exc.message, code=exc.code, errors=[("evidence", exc.message)])
    return ObjectionOut(objection_id=receipt.objection_id, state=receipt.state, due_by=receipt.due_by)


@router.post(
    "/{nomination_id}/objections",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ObjectionOut,
    responses={n: {"model": Problem} for n in (403, 404, 409, 413, 415, 422)},
)
async def file_objection(nomination_id: uuid.UUID, body: ObjectionIn, deps: DepsDep, caller: Caller) -> Any:
    """File an objection (sanggahan) as the nominator to a rejected nomination or an ended cover of the caller's
    area. Evidence: at most 2 files (PDF/JPEG/PNG by content, at most 300 KB each, base64, with their sha256)."""
    command = FileObjection(
        nomination_id=nomination_id,
        filed_by="nominator",
        channel="portal",
        reason_code=body.reason_code,
        reason_text=body.reason_text,
        evidence=body.evidence,
        caller=caller,
    )
    return await file(deps, command)


@router.get("/{nomination_id}/objections", response_model=list[ObjectionView], responses={404: {"model": Problem}})
async def read_objections(nomination_id: uuid.UUID, deps: DepsDep, caller: Caller) -> Any:
    """A nomination's objections, oldest first, with state and deadline (audited; outside the area: 404)."""
    found = await messaging.run(deps, objections.read, ReadObjections(caller=caller, nomination_id=nomination_id))
    if found is None:
        return problem(404, "No such nomination")
    return [view(r) for r in found]


def view(row: Any) -> ObjectionView:
    return ObjectionView(objection_id=row["id"], **{k: row[k] for k in ObjectionView.model_fields if k in row.keys()})


@leads_router.get("", response_model=list[LeadView], responses={403: {"model": Problem}})
async def list_leads(
    deps: DepsDep, caller: Caller, desa_code: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9.]+$")] = None
) -> Any:
    """The leads of the caller's area (of one desa with ``desa_code``), newest first; each listing is audited."""
    found = await messaging.run(deps, leads.list_leads, ListLeads(caller=caller, desa_code=desa_code))
    if isinstance(found, leads.OutOfArea):
        return problem(403, "The desa lies outside the area of this account", code="OUT_OF_AREA")
    return [lead_view(r) for r in found]


def lead_view(row: Any) -> LeadView:
    return LeadView(lead_id=row["id"], **{k: row[k] for k in LeadView.model_fields if k in row.keys()})


@leads_router.post("/{lead_id}/mark", status_code=204, responses={404: {"model": Problem}})
async def mark_lead(lead_id: uuid.UUID, body: MarkIn, deps: DepsDep, caller: Caller) -> Response:
    """Mark a lead contacted ("sudah dihubungi") or nominated ("diusulkan"); outside the area: 404."""
    done = await messaging.run(deps, leads.mark, MarkLead(caller=caller, lead_id=lead_id, state=body.state))
    return Response(status_code=204) if done else problem(404, "No such lead")
