"""REST API of the objections (sanggahan) queue: list by deadline, read a case, download its evidence, take it up
and decide it. The reviewer recorded is the authenticated caller; every read and decision is audited.

Evidence is served as an attachment with its stored content type (PDF, JPEG or PNG only) and ``nosniff``: a file
an objector sent is never rendered inline in a reviewer's browser.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.verification import bootstrap
from services.verification.bootstrap import Deps
from services.verification.commands import (
    DecideObjection,
    InspectObjection,
    ObjectionQueue,
    ReadEvidence,
    TakeUpObjection,
)
from services.verification.errors import ObjectionError
from services.verification.handlers import objection_reads, objections
from shared import messaging
from shared.auth import Principal, principal

Caller = Annotated[Principal, Depends(principal)]
router = APIRouter(prefix="/v1/objections", tags=["objections"])
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
Position = Annotated[int, Path(ge=0, le=1)]  # at most two evidence files per objection (the contract's limit)


class ObjectionSummary(BaseModel):
    objection_id: uuid.UUID
    nomination_id: uuid.UUID
    ground: str
    reason_code: str
    state: str
    due_by: date
    overdue: bool
    filed_at: datetime
    desa_code: str
    version: int


class ObjectionList(BaseModel):
    items: list[ObjectionSummary]


class TakeUpIn(BaseModel):
    version: int | None = Field(default=None, ge=0, le=2**31 - 1)


class DecisionIn(BaseModel):
    decision: Literal["upheld", "dismissed"]
    note: str = Field(min_length=1, max_length=objections.NOTE_MAX, description="Told to the person")
    version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="The case's version when read; a changed case answers 409"
    )


class DecisionOut(BaseModel):
    objection_id: uuid.UUID
    state: str
    version: int
    event_ids: list[uuid.UUID]
    result_event_type: str | None
    waived: list[str]


def _refused(exc: ObjectionError) -> HTTPException:
    return HTTPException(status_code=exc.status_code, detail=str(exc))


@router.get("", response_model=ObjectionList)
async def list_objections(
    deps: DepsDep, caller: Caller, state: Literal["open", "upheld", "dismissed"] = "open"
) -> dict[str, Any]:
    """Cases by deadline (due_by), oldest first; the read is audited."""
    items = await messaging.run(deps, objection_reads.objection_queue, ObjectionQueue(caller=caller, state=state))
    return {"items": items}


@router.get("/{objection_id}")
async def get_objection(objection_id: uuid.UUID, deps: DepsDep, caller: Caller) -> dict[str, Any]:
    """A case: the decision objected to, the objection's reason, text and evidence list (audited)."""
    try:
        cmd = InspectObjection(caller=caller, objection_id=objection_id)
        case = await messaging.run(deps, objection_reads.inspect_objection, cmd)
    except ObjectionError as exc:
        raise _refused(exc) from None
    assert case is not None  # only the workspace's reads are scoped to an area
    return case


@router.get("/{objection_id}/evidence/{position}")
async def download_evidence(objection_id: uuid.UUID, position: Position, deps: DepsDep, caller: Caller) -> Response:
    try:
        cmd = ReadEvidence(caller=caller, objection_id=objection_id, position=position)
        found = await messaging.run(deps, objection_reads.read_evidence, cmd)
    except ObjectionError as exc:
        raise _refused(exc) from None
    return attachment(found)


def attachment(found: objection_reads.EvidenceDownload) -> Response:
    """The file as a download, never inline; its filename was reduced to safe ASCII when stored."""
    headers = {
        "Content-Disposition": f'attachment; filename="{found.filename}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    }
    return Response(found.data, media_type=found.content_type, headers=headers)


@router.post("/{objection_id}/take-up", response_model=DecisionOut)
async def take_up(
    objection_id: uuid.UUID, deps: DepsDep, caller: Caller, body: TakeUpIn | None = None
) -> dict[str, Any]:
    """Take up a received case (``ObjectionReviewed`` in_review); a case taken up or decided already is 409."""
    try:
        version = body.version if body is not None else None
        cmd = TakeUpObjection(caller=caller, objection_id=objection_id, expected_version=version)
        done = await messaging.run(deps, objections.take_up, cmd)
    except ObjectionError as exc:
        raise _refused(exc) from None
    return vars(done)


@router.post("/{objection_id}/decision", response_model=DecisionOut)
async def decide(objection_id: uuid.UUID, body: DecisionIn, deps: DepsDep, caller: Caller) -> dict[str, Any]:
    """Uphold or dismiss with a note; an upheld rejection re-runs verification. A decided case is 409."""
    cmd = DecideObjection(
        caller=caller, objection_id=objection_id, verdict=body.decision, note=body.note, expected_version=body.version
    )
    try:
        done = await objections.decide_objection(deps, cmd)
    except ObjectionError as exc:
        raise _refused(exc) from None
    return vars(done)
