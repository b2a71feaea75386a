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

from services.verification import bootstrap
from services.verification.bootstrap import Deps
from services.verification.commands import DecideReview, InspectReview, ListReviews, ListSnapshots, ReadVerification
from services.verification.errors import ReviewError
from services.verification.handlers import reads, reviews
from shared import messaging
from shared.auth import Principal, principal
from shared.contracts import Reason

Caller = Annotated[Principal, Depends(principal)]
router = APIRouter(prefix="/v1", tags=["verification"])
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
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
async def get_verification(nomination_id: uuid.UUID, deps: DepsDep, caller: Caller) -> dict[str, Any]:
    """The decision on one nomination (codes and scores); the read is audited with the caller."""
    row = await messaging.run(
        deps, reads.read_verification, ReadVerification(caller=caller, nomination_id=nomination_id)
    )
    if row is None:
        raise HTTPException(status_code=404, detail="no decision for this nomination (yet)")
    return row


@router.get("/registry/snapshots", response_model=SnapshotsOut)
async def registry_snapshots(deps: DepsDep) -> dict[str, Any]:
    recent = await messaging.run(deps, reads.list_snapshots, ListSnapshots())
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
    deps: DepsDep,
    caller: Caller,
    status: Literal["open", "approved", "rejected"] = "open",
    desa_code: Annotated[str | None, Query(pattern=DESA)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Cases by id; the read (which cases the caller was shown) is audited."""
    cmd = ListReviews(caller=caller, status=status, desa_code=desa_code, after_id=after_id, limit=limit)
    items = await messaging.run(deps, reads.list_reviews, cmd)
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/reviews/{review_id}")
async def get_review(review_id: ReviewId, deps: DepsDep, caller: Caller) -> dict[str, Any]:
    """A case with the names and birth dates to compare: personal data, so each read is audited with the caller."""
    try:
        case = await messaging.run(deps, reviews.inspect_review, InspectReview(caller=caller, review_id=review_id))
    except ReviewError as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from None
    assert case is not None  # only the workspace's reads are scoped to an area
    return case


@router.post("/reviews/{review_id}/decision", response_model=ReviewDecisionOut)
async def decide_review(review_id: ReviewId, body: ReviewDecisionIn, deps: DepsDep, caller: Caller) -> dict[str, Any]:
    """Approve or reject a case. The reviewer recorded is the authenticated caller, never a name from the body."""
    cmd = DecideReview(
        caller=caller,
        review_id=review_id,
        verdict=body.decision,
        reason_code=body.reason_code,
        note=body.note,
        expected_version=body.version,
    )
    try:
        decided = await messaging.run(deps, reviews.decide, cmd)
    except ReviewError as exc:
        raise HTTPException(status_code=exc.status_code, detail=str(exc)) from None
    return vars(decided)
