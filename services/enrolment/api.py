"""HTTP API of the enrolment service: funding source usage, one nomination's enrolment, the waitlist's size.

Responses carry nomination ids, codes and counts only: never a NIK or a name.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from services.enrolment import domain, repository
from services.enrolment.settings import EnrolmentSettings
from shared.service import Runtime, runtime

router = APIRouter(prefix="/v1", tags=["enrolment"])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


class FundingSourceOut(BaseModel):
    code: str
    name: str
    programme_year: int
    priority: int
    quota: int
    used: int
    remaining: int
    premium_idr: int
    monthly_committed_idr: int
    yearly_allocated_idr: int


class FundingSourcesOut(BaseModel):
    programme_year: int
    sources: list[FundingSourceOut]


class EnrolmentOut(BaseModel):
    nomination_id: uuid.UUID
    status: Literal["enrolled", "waitlisted"]
    programme_year: int
    funding_source: str | None = None
    membership_number: str | None = None
    membership_issuer: str | None = None
    coverage_start: date | None = None
    enrolled_at: datetime | None = None
    position: int | None = None
    waitlisted_at: datetime | None = None


class WaitlistYearOut(BaseModel):
    programme_year: int
    waiting: int
    promoted: int


class WaitlistSummaryOut(BaseModel):
    years: list[WaitlistYearOut]


@router.get("/funding-sources")
async def list_funding_sources(
    rt: RuntimeDep, programme_year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> FundingSourcesOut:
    """Quota, seats used and money per funding source of a programme year (default: the current one)."""
    year = programme_year or cast(EnrolmentSettings, rt.settings).programme_year
    rows = await repository.funding_sources(rt.pool, year)
    sources = []
    for r in rows:
        f = domain.figures(r["quota"], r["used"], r["premium_idr"])
        sources.append(
            FundingSourceOut(
                **dict(r),
                remaining=f.remaining,
                monthly_committed_idr=f.monthly_committed_idr,
                yearly_allocated_idr=f.yearly_allocated_idr,
            )
        )
    return FundingSourcesOut(programme_year=year, sources=sources)


@router.get("/enrolments/{nomination_id}", responses={404: {"description": "No seat and no waitlist place"}})
async def get_enrolment(rt: RuntimeDep, nomination_id: uuid.UUID) -> EnrolmentOut:
    """The seat of a nomination, or its current place on the waitlist."""
    seat = await repository.find_seat(rt.pool, nomination_id)
    if seat is not None:
        return EnrolmentOut(
            nomination_id=nomination_id,
            status="enrolled",
            programme_year=seat["programme_year"],
            funding_source=seat["funding_source"],
            membership_number=seat["membership_number"],
            membership_issuer=seat["membership_issuer"],
            coverage_start=seat["coverage_start"],
            enrolled_at=seat["enrolled_at"],
        )
    waiting = await repository.find_waitlisted(rt.pool, nomination_id)
    if waiting is not None:
        return EnrolmentOut(
            nomination_id=nomination_id,
            status="waitlisted",
            programme_year=waiting["programme_year"],
            position=waiting["position"],
            waitlisted_at=waiting["waitlisted_at"],
        )
    raise HTTPException(status_code=404, detail="no enrolment for this nomination")


@router.get("/waitlist/summary")
async def waitlist_summary(rt: RuntimeDep) -> WaitlistSummaryOut:
    """How many people wait for a seat (and how many were promoted from the waitlist), per programme year."""
    rows = await repository.waitlist_summary(rt.pool)
    return WaitlistSummaryOut(years=[WaitlistYearOut(**dict(r)) for r in rows])
