"""HTTP API of the verification service: why a nomination was decided as it was, and which registry was used.

Responses hold codes, scores and ids only, never a name or a NIK.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel

from services.verification import repository
from shared.contracts import Reason
from shared.service import Runtime, runtime

router = APIRouter(prefix="/v1", tags=["verification"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


class CheckOut(BaseModel):
    check: str
    status: Literal["passed", "failed", "flagged", "skipped"]
    codes: list[str] = []
    note: str = ""


class VerificationOut(BaseModel):
    nomination_id: uuid.UUID
    outcome: Literal["verified", "rejected"]
    reasons: list[Reason]
    flags: list[Reason]
    name_score: float | None
    checks: list[CheckOut]
    registry_snapshot_id: int | None
    decided_at: datetime
    event_id: uuid.UUID


class SnapshotOut(BaseModel):
    id: int
    source_name: str
    row_count: int
    sha256: str
    loaded_at: datetime


class SnapshotsOut(BaseModel):
    latest: SnapshotOut | None
    recent: list[SnapshotOut]


@router.get("/verifications/{nomination_id}", response_model=VerificationOut)
async def get_verification(nomination_id: uuid.UUID, rt: RuntimeDep) -> dict[str, Any]:
    row = await repository.get_verification(rt.pool, nomination_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no decision for this nomination (yet)")
    return dict(row)


@router.get("/registry/snapshots", response_model=SnapshotsOut)
async def registry_snapshots(rt: RuntimeDep) -> dict[str, Any]:
    recent = [dict(r) for r in await repository.recent_snapshots(rt.pool)]
    return {"latest": recent[0] if recent else None, "recent": recent}
