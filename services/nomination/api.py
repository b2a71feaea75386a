"""HTTP API of the nomination service: submit a nomination, follow it."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.nomination import domain, handlers, repository
from shared.regions import default_regions
from shared.service import Runtime, runtime

router = APIRouter(prefix="/v1/nominations", tags=["nominations"])

Occupation = StrEnum("Occupation", {code: code for code in domain.OCCUPATIONS})  # type: ignore[misc]
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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(Strict):
    kecamatan_code: str = Field(examples=["64.08.01"], max_length=20)
    desa_code: str = Field(examples=["64.08.01.2001"], max_length=20)
    rt: str = Field(pattern=r"^\d{1,3}$", examples=["003"])
    rw: str = Field(pattern=r"^\d{1,3}$", examples=["002"])
    street: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _in_region_list(self) -> AddressIn:
        domain.check_address(self.kecamatan_code, self.desa_code, default_regions())
        return self


class NominatorIn(Strict):
    type: Literal["rt", "desa", "disnaker"]
    name: str = Field(min_length=1, max_length=120)
    region_code: str = Field(max_length=20, description="The desa code (rt, desa) or regency code (disnaker)")
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

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


class NominationRequest(Strict):
    """A proposal to cover one informal worker."""

    nik: str = Field(description="16-digit NIK", examples=["6408014501900001"])
    full_name: str = Field(min_length=1, max_length=150)
    birth_date: date
    sex: Literal["M", "F"]
    phone: str = Field(max_length=20, description="Mobile number, 08... or +628...")
    address: AddressIn
    occupation: Occupation  # type: ignore[valid-type]
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


class Problem(BaseModel):
    code: str
    message: str
    nomination_id: uuid.UUID | None = None


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
    responses={409: {"model": Problem, "description": "This person already has a live nomination"}},
)
async def submit_nomination(
    body: NominationRequest,
    rt: Annotated[Runtime, Depends(runtime)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Accept a nomination for verification. Retrying with the same ``Idempotency-Key`` is safe."""
    try:
        result = await handlers.submit(
            rt.pool,
            body.model_dump(mode="python"),
            rt.settings,
            idempotency_key,  # type: ignore[arg-type]
        )
    except handlers.IdempotencyKeyReused:
        return _field_errors([("header.Idempotency-Key", "was already used for a different request body")])
    if isinstance(result, handlers.AlreadyNominated):
        problem = Problem(
            code="ALREADY_NOMINATED",
            message="This NIK already has a nomination in progress; follow that one.",
            nomination_id=result.nomination_id,
        )
        return JSONResponse(
            problem.model_dump(mode="json"),
            status_code=status.HTTP_409_CONFLICT,
            headers={"Location": _links(result.nomination_id)["self"]},
        )
    accepted = Accepted(nomination_id=result.nomination_id, status="submitted", links=_links(result.nomination_id))
    headers = {"Location": accepted.links["self"]}
    if not result.created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(accepted.model_dump(mode="json"), status_code=202, headers=headers)


@router.get("/summary")
async def summary(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """Counts by status, by outcome (with how many were notified) and rejections by reason code."""
    return {
        "by_status": await repository.counts_by_status(rt.pool),
        "by_outcome": await repository.counts_by_outcome(rt.pool),
        "rejections_by_reason": await repository.rejection_counts(rt.pool),
    }


@router.get("/{nomination_id}", response_model=NominationView, responses={404: {"model": Problem}})
async def get_nomination(nomination_id: uuid.UUID, rt: Annotated[Runtime, Depends(runtime)]) -> Any:
    row = await repository.get(rt.pool, nomination_id)
    if row is None:
        return JSONResponse(
            Problem(code="NOT_FOUND", message="No such nomination").model_dump(mode="json"), status_code=404
        )
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
        history=[
            HistoryEntry(stage=h["stage"], at=h["occurred_at"], detail=h["detail"])
            for h in await repository.history(rt.pool, nomination_id)
        ],
    )


def _field_errors(errors: list[tuple[str, str]]) -> JSONResponse:
    return JSONResponse(
        {"code": "INVALID_REQUEST", "errors": [{"field": f, "message": m} for f, m in errors]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    """422 with one reason per field; the submitted values are not echoed back (they are personal data)."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] == "body":
            loc = loc[1:]
        errors.append((".".join(loc) or "body", str(err["msg"]).removeprefix("Value error, ")))
    return _field_errors(errors)
