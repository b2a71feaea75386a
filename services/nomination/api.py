"""HTTP API of the nomination service: submit a nomination, follow it."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from services.nomination import domain, handlers, letters, repository
from services.nomination.settings import NominationSettings
from shared.auth import Principal, principal
from shared.http import ProblemDetails, field_errors, problem
from shared.regions import default_regions
from shared.service import Runtime, runtime

router = APIRouter(prefix="/v1/nominations", tags=["nominations"])
Caller = Annotated[Principal, Depends(principal)]

Occupation = StrEnum("Occupation", {code: code for code in domain.OCCUPATIONS})  # type: ignore[misc]  # an enum made at run time from the codes
# An address, not markup: no <, >, quotes, brackets or backslashes (they would end up in e-mail headers and HTML).
_EMAIL = r"""^[^@\s<>()\[\]\\,;:"']+@[^@\s<>()\[\]\\,;:"']+\.[^@\s<>()\[\]\\,;:"']+$"""
_NAME_PUNCTUATION = set(" .'-,")


def _clean_name(value: str) -> str:
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if not value:
        raise ValueError("must not be empty")
    for char in value:
        if char not in _NAME_PUNCTUATION and unicodedata.category(char)[0] not in "LM":
            raise ValueError("may hold letters, spaces and . ' - , only")
    if not any(unicodedata.category(c).startswith("L") for c in value):
        raise ValueError("must contain letters")
    return value


def _plain_text(value: str) -> str:
    """Free text (street, letter number, issuer): no control or format characters. PostgreSQL cannot store NUL,
    and escape sequences or bidi overrides have no place in an address printed on a letter."""
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise ValueError("must not contain control characters")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(Strict):
    kecamatan_code: str = Field(examples=["64.08.01"], max_length=20)
    desa_code: str = Field(examples=["64.08.01.2001"], max_length=20)
    rt: str = Field(pattern=r"^\d{1,3}$", examples=["003"])
    rw: str = Field(pattern=r"^\d{1,3}$", examples=["002"])
    street: str = Field(default="", max_length=200)

    _street = field_validator("street")(_plain_text)

    @model_validator(mode="after")
    def _in_region_list(self) -> AddressIn:
        domain.check_address(self.kecamatan_code, self.desa_code, default_regions())
        return self


class NominatorIn(Strict):
    type: Literal["rt", "desa", "disnaker"]
    name: str = Field(min_length=1, max_length=120)
    region_code: str = Field(max_length=20, description="The desa code (rt, desa) or regency code (disnaker)")
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=200, pattern=_EMAIL)

    _name = field_validator("name")(_clean_name)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else domain.normalise_phone(value)

    @model_validator(mode="after")
    def _area_matches_type(self) -> NominatorIn:
        domain.check_nominator_area(self.type, self.region_code, default_regions())
        return self


class SupportingLetterIn(Strict):
    number: str = Field(min_length=1, max_length=100)
    date: date
    issuer: str = Field(min_length=1, max_length=120)

    _text = field_validator("number", "issuer")(_plain_text)


class NominationRequest(Strict):
    """A proposal to cover one informal worker."""

    nik: str = Field(description="16-digit NIK", examples=["6408014501900001"])
    full_name: str = Field(min_length=1, max_length=150)
    birth_date: date
    sex: Literal["M", "F"]
    phone: str = Field(max_length=20, description="Mobile number, 08... or +628...")
    address: AddressIn
    occupation: Occupation
    nominator: NominatorIn
    supporting_letter: SupportingLetterIn | None = None

    _name = field_validator("full_name")(_clean_name)

    @field_validator("nik")
    @classmethod
    def _nik(cls, value: str) -> str:
        return domain.validate_nik(value, default_regions())

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return domain.normalise_phone(value)

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date) -> date:
        domain.check_birth_date(value, date.today())
        return value

    @model_validator(mode="after")
    def _letter(self) -> NominationRequest:
        if domain.letter_required(self.nominator.type) and self.supporting_letter is None:
            raise ValueError(f"supporting_letter is required for a {self.nominator.type} nomination")
        if self.supporting_letter is not None and self.supporting_letter.date > date.today():
            raise ValueError("supporting_letter.date is in the future")
        return self


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
    rt: Annotated[Runtime[NominationSettings], Depends(runtime)],
    caller: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Accept a nomination for verification. Retrying with the same ``Idempotency-Key`` is safe.

    A nominator may only propose people living in its own area (the address's desa within the caller's area)."""
    if not caller.covers(body.address.desa_code):
        await handlers.record_denied(rt.pool, caller, "nomination.submit_denied", {"desa_code": body.address.desa_code})
        return _out_of_area()
    claim = domain.nominator_claim_error(caller.area, body.nominator.type, body.nominator.region_code)
    if claim is not None:
        await handlers.record_denied(rt.pool, caller, "nomination.submit_denied", {"reason": "nominator_claim"})
        return _bad_claim(claim)
    try:
        result = await handlers.submit(
            rt.pool,
            body.model_dump(mode="python"),
            rt.settings,
            idempotency_key,
            principal=caller,
        )
    except handlers.IdempotencyKeyReused:
        return _field_errors([("header.Idempotency-Key", "was already used for a different request body")])
    if isinstance(result, handlers.AlreadyNominated):
        # The other nomination's id and Location only for a caller who may read it: to anyone else the answer
        # must not become a "where is this NIK nominated?" lookup.
        if result.visible:
            return problem(
                409,
                "This NIK already has a nomination in progress; follow that one.",
                code="ALREADY_NOMINATED",
                headers={"Location": _links(result.nomination_id)["self"]},
                nomination_id=str(result.nomination_id),
            )
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
async def submit_batch(
    body: BatchRequest, rt: Annotated[Runtime[NominationSettings], Depends(runtime)], caller: Caller
) -> Any:
    """Submit up to 1000 nominations at once (a desa's spreadsheet, a bulk import): all valid items are stored in
    one transaction; every item gets its own result, so one bad row does not hold back the others. An item whose
    address lies outside the caller's area gets status 403 (``OUT_OF_AREA``)."""
    results: list[BatchItemResult | None] = [None] * len(body.items)
    valid: list[tuple[int, dict[str, Any], str | None]] = []
    for index, item in enumerate(body.items):
        try:
            request = NominationRequest.model_validate(item.nomination)
        except ValidationError as exc:
            errors = [FieldError(field=f, message=m) for f, m in field_errors(exc.errors(), drop_body=False)]
            results[index] = BatchItemResult(index=index, status=422, code="INVALID_REQUEST", errors=errors)
            continue
        if not caller.covers(request.address.desa_code):
            results[index] = BatchItemResult(index=index, status=403, code="OUT_OF_AREA")
            continue
        claim = domain.nominator_claim_error(caller.area, request.nominator.type, request.nominator.region_code)
        if claim is not None:
            errors = [FieldError(field="nominator", message=claim)]
            results[index] = BatchItemResult(index=index, status=403, code="NOMINATOR_NOT_ALLOWED", errors=errors)
            continue
        valid.append((index, request.model_dump(mode="python"), item.idempotency_key))
    outcomes = await handlers.submit_batch(
        rt.pool,
        [(r, k) for _, r, k in valid],
        rt.settings,
        principal=caller,
    )
    for (index, _, _), outcome in zip(valid, outcomes, strict=True):
        results[index] = _batch_result(index, outcome)
    done = [r for r in results if r is not None]
    counts: dict[str, int] = {}
    for r in done:
        counts[r.code] = counts.get(r.code, 0) + 1
    return BatchResult(results=done, counts=counts)


def _batch_result(index: int, outcome: handlers.BatchOutcome) -> BatchItemResult:
    if isinstance(outcome, handlers.AlreadyNominated):
        shown = outcome.nomination_id if outcome.visible else None
        return BatchItemResult(index=index, status=409, code="ALREADY_NOMINATED", nomination_id=shown)
    if isinstance(outcome, handlers.KeyReused):
        errors = [FieldError(field="idempotency_key", message="was already used for a different request body")]
        return BatchItemResult(index=index, status=422, code="INVALID_REQUEST", errors=errors)
    code = "ACCEPTED" if outcome.created else "REPLAYED"
    return BatchItemResult(index=index, status=202, code=code, nomination_id=outcome.nomination_id)


@router.get("/summary")
async def summary(rt: Annotated[Runtime[NominationSettings], Depends(runtime)], caller: Caller) -> dict[str, Any]:
    """Counts by status, by outcome (with how many were notified) and rejections by reason code; a caller with an
    area (a nominator) sees its area's counts only."""
    return {
        "area": caller.area,
        "by_status": await repository.counts_by_status(rt.pool, caller.area),
        "by_outcome": await repository.counts_by_outcome(rt.pool, caller.area),
        "rejections_by_reason": await repository.rejection_counts(rt.pool, caller.area),
    }


@router.get("/{nomination_id}", response_model=NominationView, responses={404: {"model": Problem}})
async def get_nomination(
    nomination_id: uuid.UUID, rt: Annotated[Runtime[NominationSettings], Depends(runtime)], caller: Caller
) -> Any:
    """Where a nomination is; each read is audited. Outside a nominator's area it answers 404, as if absent."""
    found = await handlers.read(rt.pool, nomination_id, caller)
    if found is None:
        return problem(404, "No such nomination")
    row, history = found
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
        history=[HistoryEntry(stage=h["stage"], at=h["occurred_at"], detail=h["detail"]) for h in history],
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
async def put_letter(
    nomination_id: uuid.UUID,
    request: Request,
    rt: Annotated[Runtime[NominationSettings], Depends(runtime)],
    caller: Caller,
) -> Any:
    """Store the supporting letter (the body: a JPEG or PNG photo or a PDF, checked by its content, at most
    ``letter_max_bytes``). Sending the same letter again is harmless; a decided nomination takes no new letter."""
    content = await request.body()
    try:
        letter = await letters.upload(rt.pool, nomination_id, content, rt.settings.letter_max_bytes, caller)
    except letters.LetterRefused as exc:
        return problem(exc.status, exc.message, code=exc.code, errors=[("letter", exc.message)])
    return LetterStored(
        nomination_id=nomination_id, media_type=letter.media_type, size_bytes=letter.size_bytes, sha256=letter.sha256
    )


@router.get("/{nomination_id}/letter", responses={404: {"model": Problem}})
async def get_letter(
    nomination_id: uuid.UUID, rt: Annotated[Runtime[NominationSettings], Depends(runtime)], caller: Caller
) -> Any:
    """The supporting letter as uploaded; each read is audited. Outside the caller's area: 404, as if absent."""
    letter = await letters.read(rt.pool, nomination_id, caller)
    if letter is None:
        return problem(404, "No letter for this nomination")
    return Response(letter.content, media_type=letter.media_type, headers=LETTER_HEADERS)


def _out_of_area() -> JSONResponse:
    return problem(403, "The address lies outside the area of this account", code="OUT_OF_AREA")


def _bad_claim(reason: str) -> JSONResponse:
    return problem(403, reason, code="NOMINATOR_NOT_ALLOWED", errors=[("nominator", reason)])


def _field_errors(errors: list[tuple[str, str]]) -> JSONResponse:
    return problem(422, "the request is not valid", errors=errors)
