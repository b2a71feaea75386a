"""HTTP API of the verification service: why a nomination was decided as it was, which registry was used, and
the review queue of Disnaker verifiers.

Decision responses hold codes, scores and ids only, never a name or a NIK. Review cases show verifiers the names
and birth dates they must compare, with NIK and KK numbers masked.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from services.verification import repository, reviews, reviews_repository
from services.verification.settings import VerificationSettings
from shared import audit
from shared.auth import Principal, principal
from shared.contracts import Reason
from shared.service import Runtime, runtime

Caller = Annotated[Principal, Depends(principal)]
router = APIRouter(prefix="/v1", tags=["verification"])
RuntimeDep = Annotated[Runtime[VerificationSettings], Depends(runtime)]
# Review ids are PostgreSQL bigints: a larger number is refused at the edge (422), never sent to the database.
ReviewId = Annotated[int, Path(ge=1, le=2**63 - 1)]
DESA = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"


class CheckOut(BaseModel):
    check: str
    layer: str = ""
    status: Literal["passed", "failed", "flagged", "review", "skipped"]
    codes: list[str] = []
    note: str = ""


class VerificationOut(BaseModel):
    nomination_id: uuid.UUID
    outcome: Literal["verified", "rejected", "in_review", "pending"]
    reasons: list[Reason]
    flags: list[Reason]
    name_score: float | None
    checks: list[CheckOut]
    registry_snapshot_id: int | None
    decided_at: datetime
    event_id: uuid.UUID | None


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
async def get_verification(nomination_id: uuid.UUID, rt: RuntimeDep, caller: Caller) -> dict[str, Any]:
    """The decision on one nomination (codes and scores); the read is audited with the caller."""
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await repository.get_verification(conn, nomination_id)
        if row is None:
            raise HTTPException(status_code=404, detail="no decision for this nomination (yet)")
        await audit.record(conn, caller, "verification.read", nomination_id)
    return dict(row)


@router.get("/registry/snapshots", response_model=SnapshotsOut)
async def registry_snapshots(rt: RuntimeDep) -> dict[str, Any]:
    recent = [dict(r) for r in await repository.recent_snapshots(rt.pool)]
    return {"latest": recent[0] if recent else None, "recent": recent}


# ------------------------------------------------------------------------------------------------ review queue


class ReviewSummary(BaseModel):
    id: int
    nomination_id: uuid.UUID
    layer: str
    status: str
    desa_code: str
    reasons: list[Reason]
    created_at: datetime
    decided_at: datetime | None


class ReviewList(BaseModel):
    items: list[ReviewSummary]
    next_after_id: int | None = Field(description="Pass as after_id for the next page; null on the last page")


class ReviewDecisionIn(BaseModel):
    decision: Literal["approve", "reject"]
    reason_code: str | None = Field(default=None, description="A rejection code of shared.reasons (for reject)")
    note: str = Field(default="", max_length=2000)
    version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="The case's version when read; a changed case answers 409"
    )


class ReviewDecisionOut(BaseModel):
    review_id: int
    status: str
    event_id: uuid.UUID
    event_type: str
    decided_at: datetime


@router.get("/reviews", response_model=ReviewList)
async def list_reviews(
    rt: RuntimeDep,
    caller: Caller,
    status: Literal["open", "approved", "rejected"] = "open",
    desa_code: Annotated[str | None, Query(pattern=DESA)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Cases by id; the read (which cases the caller was shown) is audited."""
    async with rt.pool.acquire() as conn, conn.transaction():
        rows = await reviews_repository.list_reviews(conn, status, desa_code, after_id, limit)
        items = [dict(r) for r in rows]
        await audit.record(
            conn,
            caller,
            "reviews.listed",
            None,
            {"status": status, "desa_code": desa_code, "ids": [i["id"] for i in items]},
        )
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/reviews/{review_id}")
async def get_review(review_id: ReviewId, rt: RuntimeDep, caller: Caller) -> dict[str, Any]:
    """A case with the names and birth dates to compare: personal data, so each read is audited with the caller."""
    try:
        async with rt.pool.acquire() as conn, conn.transaction():
            case = await reviews.inspect(conn, review_id)
            await audit.record(conn, caller, "review.read", str(review_id))
    except reviews.ReviewError as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from None
    return case


@router.post("/reviews/{review_id}/decision", response_model=ReviewDecisionOut)
async def decide_review(review_id: ReviewId, body: ReviewDecisionIn, rt: RuntimeDep, caller: Caller) -> dict[str, Any]:
    """Approve or reject a case. The reviewer recorded is the authenticated caller, never a name from the body."""
    try:
        async with rt.pool.acquire() as conn, conn.transaction():
            decided = await reviews.decide(
                conn,
                review_id,
                body.decision,
                body.reason_code,
                body.note,
                caller.name,
                rt.settings.topic_prefix,
                expected_version=body.version,
            )
            await audit.record(conn, caller, "review.decided", str(review_id), {"decision": body.decision})
    except reviews.ReviewError as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from None
    return vars(decided)
