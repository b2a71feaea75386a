"""The DCI enrolment check for other programmes: "is this person enrolled in a programme?" (spdci IBR API v1.0.0,
``POST /registry/sync/enrolled``), so another agency can avoid paying twice.

Scoped: only the ``partner_agency`` role (an agency's system, ``shared.auth``) and programme admins reach it.
Minimal: for one identifier (a NIK, ``idtype-value`` ``{"type": "UIN", "value": ...}`` or the IBR example's
``{"person_identifier": {"eq": ...}}``) the answer is ``enrolled_status`` yes/no and, for yes, this programme's id
and the covered period; never a name, a membership number or anything else about the person. "Enrolled" means a
seat BPJS confirmed (``active``) whose cover has not ended (cover starts on the 1st of the month after enrolment:
the period may lie ahead, and still the other agency must not pay for it); a seat waiting for BPJS, ended or
refused is "no".
Audited: every answer writes an audit row (principal, yes/no, the transaction id; the seat's nomination id as
subject when yes; never the NIK) in the transaction that reads. Rate-limited per principal (token bucket,
``enrolment_check_per_minute``): beyond it 429 with ``Retry-After``; a refused request is not answered.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.enrolment import bootstrap, commands
from services.enrolment.bootstrap import Deps
from services.enrolment.handlers import reads
from shared import dci, messaging
from shared.auth import Principal, principal

router = APIRouter(prefix="/dci/registry", tags=["dci"])
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
Caller = Annotated[Principal, Depends(principal)]
_NIK = re.compile(r"^\d{16}$")


class EnrolledCriteria(BaseModel):
    model_config = ConfigDict(extra="allow")

    reference_id: str | None = Field(default=None, max_length=99)
    query_type: Literal["idtype-value", "expression", "predicate"] = "idtype-value"
    query: dict[str, Any]


class EnrolledMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    transaction_id: str = Field(min_length=1, max_length=99, pattern=r"^[A-Za-z0-9._:-]+$")
    enrolled_criteria: EnrolledCriteria


class EnrolledRequest(BaseModel):
    """The IBR ``EnrolledRequest`` in the DCI envelope (``signature`` is accepted, not required: callers
    authenticate with their API key or token)."""

    model_config = ConfigDict(extra="allow")

    signature: str | None = None
    header: dict[str, Any] = Field(default_factory=dict)
    message: EnrolledMessage


def nik_of(criteria: EnrolledCriteria) -> str | None:
    query = criteria.query
    if criteria.query_type == "idtype-value":
        value = query.get("value") if str(query.get("type", "UIN")).upper() in ("UIN", "NIK") else None
    else:
        wanted = query.get("person_identifier")
        value = wanted.get("eq") if isinstance(wanted, dict) else wanted
    return value if isinstance(value, str) and _NIK.match(value) else None


def _programme_asked(criteria: EnrolledCriteria) -> str | None:
    wanted = criteria.query.get("programme_identifier.program.programme_identifier")
    return wanted.get("eq") if isinstance(wanted, dict) else wanted if isinstance(wanted, str) else None


@router.post("/sync/enrolled")
async def enrolled(body: EnrolledRequest, deps: DepsDep, caller: Caller) -> JSONResponse:
    """Is the person with this NIK enrolled in this programme now? yes/no, the programme and the period."""
    settings = deps.settings
    wait = deps.enrolled_limiter.take(caller.name)
    if wait:
        raise HTTPException(429, "too many enrolment checks: slow down", headers={"Retry-After": str(math.ceil(wait))})
    criteria = body.message.enrolled_criteria
    nik = nik_of(criteria)
    if nik is None:
        raise HTTPException(422, "the query must name one NIK (16 digits) as UIN")
    command = commands.CheckEnrolled(
        nik=nik, programme=_programme_asked(criteria), transaction_id=body.message.transaction_id, caller=caller
    )
    seat = await messaging.run(deps, reads.check_enrolled, command)
    item: dict[str, Any] = {
        "reference_id": criteria.reference_id or str(uuid.uuid4()),
        "timestamp": dci.timestamp(),
        "status": "succ",
        "enrolled_status": "yes" if seat else "no",
    }
    if seat is not None:
        start = seat["coverage_start"]
        # Open cover runs to the end of its programme year; a seat given in December starts on 1 January of the
        # next year (domain.coverage_start), so its year ends no earlier than the one it starts in.
        end = seat["coverage_end"] or date(max(seat["programme_year"], start.year), 12, 31)
        programme = {"programme_identifier": settings.dci_programme_id, "programme_name": settings.dci_programme_name}
        item["programme"] = programme
        item["period"] = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    sender = str(body.header.get("sender_id") or caller.name)
    header = dci.callback_header("on-enrolled", settings.dci_programme_id, sender, 1, completed=1)
    message = {"transaction_id": body.message.transaction_id, "correlation_id": str(uuid.uuid4()),
               "enrolled_response": [item]}  # fmt: skip
    return JSONResponse({"header": header, "message": message})
