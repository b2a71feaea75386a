"""HTTP API of the nomination service: submit a nomination, follow it, its supporting letter."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from services.nomination import bootstrap
from services.nomination.bootstrap import Deps
from services.nomination.commands import (
    BatchEntry,
    NominationRequest,
    ReadLetter,
    ReadNomination,
    StoreLetter,
    Strict,
    SubmitBatch,
    SubmitNomination,
    Summarise,
)
from services.nomination.errors import IdempotencyKeyReused, LetterRefused
from services.nomination.handlers import letters, reads, submission
from services.nomination.handlers.access import ClaimRefused, OutOfArea
from shared import messaging
from shared.auth import Principal, principal
from shared.http import ProblemDetails, field_errors, problem

router = APIRouter(prefix="/v1/nominations", tags=["nominations"])
Caller = Annotated[Principal, Depends(principal)]
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]


class Accepted(BaseModel):
    nomination_id: uuid.UUID
    status: str
    links: dict[str, str]


class Problem(ProblemDetails):
    """A problem document (RFC 9457) with the nomination's extension members."""

    nomination_id: uuid.UUID | None = Field(
        default=None, description="409: the live nomination, only when the caller may read it"
    )


class HistoryEntry(BaseModel):
    stage: str
    at: Any
    detail: dict[str, Any]


class NominationView(BaseModel):
    """Where a nomination is. Personal data (NIK, name, phone) is not shown here."""

    nomination_id: uuid.UUID
    status: str
    outcome: str | None
    reasons: list[dict[str, Any]]
    membership_number: str | None
    funding_source: str | None
    waitlist_position: int | None
    desa_code: str
    occupation: str
    submitted_at: Any
    updated_at: Any
    history: list[HistoryEntry]


def _links(nomination_id: uuid.UUID) -> dict[str, str]:
    return {"self": f"/v1/nominations/{nomination_id}"}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        403: {
            "model": Problem,
            "description": "The address lies outside the caller's area, or the nominator is not one this key may claim",
        },
        409: {"model": Problem, "description": "This person already has a live nomination"},
    },
)
async def submit_nomination(
    body: NominationRequest,
    deps: DepsDep,
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Accept a nomination for verification. Retrying with the same ``Idempotency-Key`` is safe.

    A nominator may only propose people living in its own area (the address's desa within the caller's area)."""
    return await submit(deps, SubmitNomination(caller=caller, request=body, idempotency_key=idempotency_key))


async def submit(deps: Deps, command: SubmitNomination) -> JSONResponse:
    """The answer of ``POST /v1/nominations`` (the portal's JSON route gives the same)."""
    try:
        result = await messaging.run(deps, submission.submit, command, retry_on=(asyncpg.UniqueViolationError,))
    except IdempotencyKeyReused:
        return _field_errors([("header.Idempotency-Key", "was already used for a different request body")])
    match result:
        case OutOfArea():
            return _out_of_area()
        case ClaimRefused(reason=reason):
            return _bad_claim(reason)
        case submission.AlreadyNominated(nomination_id=nid, visible=True):
            # The other nomination's id and Location only for a caller who may read it: to anyone else the answer
            # must not become a "where is this NIK nominated?" lookup.
            return problem(
                409,
                "This NIK already has a nomination in progress; follow that one.",
                code="ALREADY_NOMINATED",
                headers={"Location": _links(nid)["self"]},
                nomination_id=str(nid),
            )
        case submission.AlreadyNominated():
            return problem(409, "This NIK already has a nomination in progress.", code="ALREADY_NOMINATED")
    accepted = Accepted(nomination_id=result.nomination_id, status="submitted", links=_links(result.nomination_id))
    headers = {"Location": accepted.links["self"]}
    if not result.created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202, headers=headers)


BATCH_MAX_ITEMS = 1000


class BatchItem(Strict):
    idempotency_key: str | None = Field(default=None, max_length=200, description="As the Idempotency-Key header")
    nomination: dict[str, Any] = Field(description="A NominationRequest body; each item is validated on its own")


class BatchRequest(Strict):
    items: list[BatchItem] = Field(min_length=1, max_length=BATCH_MAX_ITEMS)


class FieldError(BaseModel):
    field: str
    message: str


class BatchItemResult(BaseModel):
    index: int
    status: int = Field(description="What POST /v1/nominations would have answered for this item: 202, 409 or 422")
    code: str
    nomination_id: uuid.UUID | None = None
    errors: list[FieldError] = []


class BatchResult(BaseModel):
    results: list[BatchItemResult]
    counts: dict[str, int]


@router.post(":batch", response_model=BatchResult)
async def submit_batch(body: BatchRequest, deps: DepsDep, caller: Caller) -> Any:
    """Submit up to 1000 nominations at once (a desa's spreadsheet, a bulk import): all valid items are stored in
    one transaction; every item gets its own result, so one bad row does not hold back the others. An item whose
    address lies outside the caller's area gets status 403 (``OUT_OF_AREA``)."""
    results: list[BatchItemResult | None] = [None] * len(body.items)
    valid: list[int] = []
    entries: list[BatchEntry] = []
    for index, item in enumerate(body.items):
        try:
            request = NominationRequest.model_validate(item.nomination)
        except ValidationError as exc:
            errors = [FieldError(field=f, message=m) for f, m in field_errors(exc.errors(), drop_body=False)]
            results[index] = BatchItemResult(index=index, status=422, code="INVALID_REQUEST", errors=errors)
            continue
        valid.append(index)
        entries.append(BatchEntry(request=request, idempotency_key=item.idempotency_key))
    command = SubmitBatch(caller=caller, items=tuple(entries))
    outcomes = await messaging.run(
        deps, submission.submit_batch, command, retry_on=(asyncpg.UniqueViolationError,), attempts=3
    )
    for index, outcome in zip(valid, outcomes, strict=True):
        results[index] = _batch_result(index, outcome)
    done = [r for r in results if r is not None]
    counts: dict[str, int] = {}
    for r in done:
        counts[r.code] = counts.get(r.code, 0) + 1
    return BatchResult(results=done, counts=counts)


def _batch_result(index: int, outcome: submission.BatchOutcome) -> BatchItemResult:
    match outcome:
        case OutOfArea():
            return BatchItemResult(index=index, status=403, code="OUT_OF_AREA")
        case ClaimRefused(reason=reason):
            errors = [FieldError(field="nominator", message=reason)]
            return BatchItemResult(index=index, status=403, code="NOMINATOR_NOT_ALLOWED", errors=errors)
        case submission.AlreadyNominated(nomination_id=nid, visible=visible):
            shown = nid if visible else None
            return BatchItemResult(index=index, status=409, code="ALREADY_NOMINATED", nomination_id=shown)
        case submission.KeyReused():
            errors = [FieldError(field="idempotency_key", message="was already used for a different request body")]
            return BatchItemResult(index=index, status=422, code="INVALID_REQUEST", errors=errors)
    code = "ACCEPTED" if outcome.created else "REPLAYED"
    return BatchItemResult(index=index, status=202, code=code, nomination_id=outcome.nomination_id)


@router.get("/summary")
async def summary(deps: DepsDep, caller: Caller) -> dict[str, Any]:
    """Counts by status, by outcome (with how many were notified) and rejections by reason code; a caller with an
    area (a nominator) sees its area's counts only."""
    return await messaging.run(deps, reads.summarise, Summarise(caller=caller))


@router.get("/{nomination_id}", response_model=NominationView, responses={404: {"model": Problem}})
async def get_nomination(nomination_id: uuid.UUID, deps: DepsDep, caller: Caller) -> Any:
    """Where a nomination is; each read is audited. Outside a nominator's area it answers 404, as if absent."""
    found = await messaging.run(deps, reads.read, ReadNomination(caller=caller, nomination_id=nomination_id))
    if found is None:
        return problem(404, "No such nomination")
    row = found.nomination
    progress = row["progress"] or {}
    return NominationView(
        nomination_id=row["id"],
        status=row["status"],
        outcome=row["outcome"],
        reasons=progress.get("reasons", []),
        membership_number=progress.get("membership_number"),
        funding_source=progress.get("funding_source"),
        waitlist_position=progress.get("waitlist_position"),
        desa_code=row["desa_code"],
        occupation=row["occupation"],
        submitted_at=row["submitted_at"],
        updated_at=row["updated_at"],
        history=[HistoryEntry(stage=h["stage"], at=h["occurred_at"], detail=h["detail"]) for h in found.history],
    )


class LetterStored(BaseModel):
    nomination_id: uuid.UUID
    media_type: str
    size_bytes: int
    sha256: str


LETTER_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Content-Disposition": "inline",
}


@router.put(
    "/{nomination_id}/letter",
    response_model=LetterStored,
    responses={404: {"model": Problem}, 409: {"model": Problem}, 413: {"model": Problem}, 415: {"model": Problem}},
)
async def put_letter(nomination_id: uuid.UUID, request: Request, deps: DepsDep, caller: Caller) -> Any:
    """Store the supporting letter (the body: a JPEG or PNG photo or a PDF, checked by its content, at most
    ``letter_max_bytes``). Sending the same letter again is harmless; a decided nomination takes no new letter."""
    command = StoreLetter(caller=caller, nomination_id=nomination_id, content=await request.body())
    letter = await messaging.run(deps, letters.store, command)
    if isinstance(letter, LetterRefused):
        return letter_refused(letter)
    return LetterStored(
        nomination_id=nomination_id, media_type=letter.media_type, size_bytes=letter.size_bytes, sha256=letter.sha256
    )


@router.get("/{nomination_id}/letter", responses={404: {"model": Problem}})
async def get_letter(nomination_id: uuid.UUID, deps: DepsDep, caller: Caller) -> Any:
    """The supporting letter as uploaded; each read is audited. Outside the caller's area: 404, as if absent."""
    return await letter_response(deps, caller, nomination_id)


async def letter_response(deps: Deps, caller: Principal, nomination_id: uuid.UUID) -> Response:
    """The letter as ``GET /v1/nominations/{id}/letter`` answers it (the portal's page serves the same)."""
    letter = await messaging.run(deps, letters.read, ReadLetter(caller=caller, nomination_id=nomination_id))
    if letter is None:
        return problem(404, "No letter for this nomination")
    return Response(letter.content, media_type=letter.media_type, headers=LETTER_HEADERS)


def letter_refused(exc: LetterRefused) -> JSONResponse:
    return problem(exc.status, exc.message, code=exc.code, errors=[("letter", exc.message)])


def _out_of_area() -> JSONResponse:
    return problem(403, "The address lies outside the area of this account", code="OUT_OF_AREA")


def _bad_claim(reason: str) -> JSONResponse:
    return problem(403, reason, code="NOMINATOR_NOT_ALLOWED", errors=[("nominator", reason)])


def _field_errors(errors: list[tuple[str, str]]) -> JSONResponse:
    return problem(422, "the request is not valid", errors=errors)
