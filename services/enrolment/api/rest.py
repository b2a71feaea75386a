"""HTTP API of the enrolment service: funding sources and budget, one nomination's enrolment (and ending it),
the waitlist's size.

Responses carry nomination ids, codes and counts only: never a NIK or a name.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from services.enrolment import bootstrap, commands
from services.enrolment.bootstrap import Deps
from services.enrolment.handlers import ending, reads
from shared import messaging
from shared.auth import Principal, principal

router = APIRouter(prefix="/v1", tags=["enrolment"])
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
Caller = Annotated[Principal, Depends(principal)]
Status = Literal["enrolled", "pending_bpjs", "ended", "refused", "renewed", "waitlisted"]


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
    status: Status
    programme_year: int
    coverage_end: date | None = None
    end_reason: str | None = None
    bpjs_refusal_code: str | None = None
    promoted_from_waitlist: bool | None = None
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
    deps: DepsDep, programme_year: Annotated[int | None, Query(ge=2000, le=2100)] = None
) -> FundingSourcesOut:
    """Quota, seats used and money per funding source of a programme year (default: the current one)."""
    year = programme_year or deps.settings.programme_year
    rows = await messaging.run(deps, reads.funding_sources, commands.ListFundingSources(programme_year=year))
    sources = [
        FundingSourceOut(
            **dict(r),
            remaining=f.remaining,
            monthly_committed_idr=f.monthly_committed_idr,
            yearly_allocated_idr=f.yearly_allocated_idr,
        )
        for r, f in rows
    ]
    return FundingSourcesOut(programme_year=year, sources=sources)


@router.get("/enrolments/{nomination_id}", responses={404: {"description": "No seat and no waitlist place"}})
async def get_enrolment(deps: DepsDep, nomination_id: uuid.UUID, caller: Caller) -> EnrolmentOut:
    """The latest seat of a nomination (any status), or its current place on the waitlist. A membership number is
    personal data: every read is audited with the caller."""
    command = commands.GetEnrolment(nomination_id=nomination_id, caller=caller)
    found = await messaging.run(deps, reads.enrolment, command)
    if (seat := found.seat) is not None:
        status: Status = "enrolled" if seat["status"] == "active" else seat["status"]
        return EnrolmentOut(
            nomination_id=nomination_id,
            status=status,
            programme_year=seat["programme_year"],
            coverage_end=seat["coverage_end"],
            end_reason=seat["end_reason"],
            bpjs_refusal_code=seat["bpjs_refusal_code"],
            promoted_from_waitlist=seat["promoted"],
            funding_source=seat["funding_source"],
            membership_number=seat["membership_number"],
            membership_issuer=seat["membership_issuer"],
            coverage_start=seat["coverage_start"],
            enrolled_at=seat["enrolled_at"],
        )
    if (waiting := found.waiting) is not None:
        return EnrolmentOut(
            nomination_id=nomination_id,
            status="waitlisted",
            programme_year=waiting["programme_year"],
            position=waiting["position"],
            waitlisted_at=waiting["waitlisted_at"],
        )
    raise HTTPException(status_code=404, detail="no enrolment for this nomination")


@router.get("/waitlist/summary")
async def waitlist_summary(deps: DepsDep) -> WaitlistSummaryOut:
    """How many people wait for a seat (and how many were promoted from the waitlist), per programme year."""
    rows = await messaging.run(deps, reads.waitlist_summary, commands.WaitlistSummary())
    return WaitlistSummaryOut(years=[WaitlistYearOut(**dict(r)) for r in rows])


# --- ending a seat (Disnaker) -------------------------------------------------------------------------------------


class EndIn(BaseModel):
    reason: Literal["became_wage_earner", "opted_out", "contributions_unpaid"]
    effective_date: date
    note: str | None = Field(default=None, max_length=1000)


class EndOut(BaseModel):
    nomination_id: uuid.UUID
    outcome: Literal["ended", "removed_from_waitlist"]
    coverage_end: date | None


class ChangeOut(BaseModel):
    programme_year: int
    change: str
    reason: str | None
    effective_date: date | None
    note: str | None
    recorded_by: str
    recorded_at: datetime


@router.post(
    "/enrolments/{nomination_id}/end",
    responses={404: {"description": "No live seat and no waitlist place"}},
)
async def end_enrolment(deps: DepsDep, nomination_id: uuid.UUID, body: EndIn, caller: Caller) -> EndOut:
    """Record that a person left the programme; the seat goes to the next person waiting, in the same
    transaction. Deaths and moves come from the civil registry instead (``registry.person_updated``).
    Who recorded it is the authenticated caller, never a name from the body."""
    command = commands.EndEnrolment(
        nomination_id=nomination_id, reason=body.reason, effective_date=body.effective_date, note=body.note,
        caller=caller,
    )  # fmt: skip
    result = await messaging.run(deps, ending.end_enrolment, command)
    if result.outcome == "nothing_to_end":
        raise HTTPException(status_code=404, detail="no live seat and no waitlist place for this nomination")
    return EndOut(nomination_id=nomination_id, outcome=result.outcome, coverage_end=result.coverage_end)


@router.get("/enrolments/{nomination_id}/changes")
async def enrolment_changes(deps: DepsDep, nomination_id: uuid.UUID, caller: Caller) -> list[ChangeOut]:
    """The audit of a nomination's seat after allocation: who changed what, when and why (the read is audited)."""
    command = commands.ListChanges(nomination_id=nomination_id, caller=caller)
    return [ChangeOut(**dict(r)) for r in await messaging.run(deps, reads.changes, command)]


# --- budget -------------------------------------------------------------------------------------------------------


class BudgetMonthOut(BaseModel):
    month: int
    seats: int
    committed_idr: int
    allocated_idr: int
    absorption_pct: float


class BudgetSourceOut(BaseModel):
    code: str
    name: str
    quota: int
    premium_idr: int
    pending_bpjs: int
    months: list[BudgetMonthOut]
    committed_idr: int
    allocated_idr: int
    absorption_pct: float


class BudgetOut(BaseModel):
    programme_year: int
    sources: list[BudgetSourceOut]


@router.get("/budget")
async def budget(deps: DepsDep, programme_year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> BudgetOut:
    """Allocated (quota x premium) versus committed (seats covered that month x premium) per source and month.

    A month counts a seat covered for at least one day of it (contributions are paid per calendar month);
    seats still waiting for BPJS are shown apart (``pending_bpjs``), not committed.
    """
    year = programme_year or deps.settings.programme_year
    lines = await messaging.run(deps, reads.budget, commands.GetBudget(programme_year=year))
    sources = []
    for line in lines:
        months = [BudgetMonthOut(**vars(m)) for m in line.months]
        sources.append(BudgetSourceOut(**{**vars(line), "months": months}))
    return BudgetOut(programme_year=year, sources=sources)
