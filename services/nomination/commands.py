"""The nomination service's commands: what a route, the upload job or the CLI asks a handler to do, as frozen
models. The request models (``NominationRequest`` and its parts) are the body of ``POST /v1/nominations`` and
validate it; a command acting for a caller carries that caller (``caller: Principal``), whose area the handler
applies (handlers/access.py).
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.nomination import domain
from services.nomination.domain.leads import clean_name
from shared import formats
from shared.auth import Principal
from shared.contracts import Evidence, ObjectionReason
from shared.regions import default_regions
from shared.sheets.rows import Batch, Sheet

Occupation = StrEnum("Occupation", {code: code for code in formats.OCCUPATIONS})  # type: ignore[misc]  # an enum made at run time from the codes


def _clean_name(value: str) -> str:
    return clean_name(value)


def _plain_text(value: str) -> str:
    """Free text (street, letter number, issuer): no control or format characters. PostgreSQL cannot store NUL,
    and escape sequences or bidi overrides have no place in an address printed on a letter."""
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise ValueError("must not contain control characters")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


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
    email: str | None = Field(default=None, max_length=200, pattern=formats.EMAIL_PATTERN)

    _name = field_validator("name")(_clean_name)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else formats.mobile_number(value)

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
        return formats.mobile_number(value)

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date) -> date:
        domain.check_birth_date(value, formats.local_today())
        return value

    @model_validator(mode="after")
    def _letter(self) -> NominationRequest:
        if domain.letter_required(self.nominator.type) and self.supporting_letter is None:
            raise ValueError(f"supporting_letter is required for a {self.nominator.type} nomination")
        if self.supporting_letter is not None and self.supporting_letter.date > formats.local_today():
            raise ValueError("supporting_letter.date is in the future")
        return self


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)


class SubmitNomination(Command):
    """One validated nomination, as ``POST /v1/nominations`` (or a row of an upload) sends it."""

    caller: Principal
    request: NominationRequest
    idempotency_key: str | None = None


class BatchEntry(Command):
    request: NominationRequest
    idempotency_key: str | None = None


class SubmitBatch(Command):
    """The validated items of ``POST /v1/nominations:batch``, stored in one transaction (one outcome each)."""

    caller: Principal
    items: tuple[BatchEntry, ...]


class ReadNomination(Command):
    caller: Principal
    nomination_id: uuid.UUID


class Summarise(Command):
    caller: Principal


class ListNominations(Command):
    caller: Principal


class ReadRejectedRequest(Command):
    caller: Principal
    nomination_id: uuid.UUID


class StoreLetter(Command):
    caller: Principal
    nomination_id: uuid.UUID
    content: bytes


class CopyLetter(Command):
    """A corrected resubmission keeps the letter of the nomination it corrects (``source_id``)."""

    caller: Principal
    source_id: uuid.UUID
    nomination_id: uuid.UUID


class ReadLetter(Command):
    caller: Principal
    nomination_id: uuid.UUID


class PurgeLetters(Command):
    retention_days: int


class CreateUpload(Command):
    """A spreadsheet the portal took: its bytes, kind and rows (read already), who nominates and the letter."""

    caller: Principal
    content: bytes
    kind: str
    sheet: Sheet
    batch: Batch


class RefuseUpload(Command):
    """An upload refused before it became a job: audited with its code and size, never its content."""

    caller: Principal
    code: str
    size_bytes: int


class ReadUpload(Command):
    caller: Principal
    job_id: uuid.UUID


class LeaseUploadRows(Command):
    limit: int


class FinishUploadRow(Command):
    job_id: uuid.UUID
    row_number: int
    nomination_id: uuid.UUID | None
    replayed: bool
    errors: tuple[tuple[str, str, str], ...]  # (column, reason in Bahasa, reason in English)


class PurgeUploads(Command):
    retention_days: int


class PrintDesaCards(Command):
    """The cards of a desa's covered members, for its printed batch (``GET /v1/cards/desa/{desa_code}``)."""

    caller: Principal
    desa_code: str


class CountCoveredMembers(Command):
    """Covered members per desa of the caller's area (the portal's "Kartu peserta" page)."""

    caller: Principal


# --- Self-check ("Cek kepesertaan", handlers/selfcheck.py) -----------------------------------------------------------
class LookUp(Command):
    """A self-check: NIK + birth date from ``source_hash`` (an HMAC of the client address, or of the sender's
    phone for a keyword), counted against the budgets and logged (hashes only)."""

    channel: Literal["web", "sms", "whatsapp"]
    source_hash: str
    nik: str
    birth_date: date


class ReadCard(Command):
    """The status of the nomination a card's QR code names (its token already checked by the route)."""

    nomination_id: uuid.UUID
    source_hash: str


class ObjectFromSelfCheck(Command):
    """An objection filed from the self-check page (``POST /cek/sanggah``) for the nomination its signed reference
    names, by the person themself."""

    nomination_id: uuid.UUID
    channel: Literal["web", "sms", "whatsapp"]
    reason_code: ObjectionReason
    reason_text: str = Field(default="", max_length=1000)
    evidence: tuple[Evidence, ...] = ()


class AskToBeConsidered(Command):
    """A lead from the ``/daftar`` page or a ``DAFTAR`` keyword: a worker asks to be considered."""

    desa_code: str
    full_name: str
    phone: str
    occupation: str
    channel: Literal["web", "sms", "whatsapp"]


# ------------------------------------------------------------------------------ objections and leads (issue 15)
@dataclass(frozen=True)
class FileObjection:
    """A sanggahan to a rejected nomination or an ended cover (domain/objections.py checks it in the handler).

    ``caller``: the official filing from the portal or the API (its area applies); None when the person filed it
    themselves (web self-check or SMS/WhatsApp ``SANGGAH``, already identified by the self-check).
    """

    nomination_id: uuid.UUID
    filed_by: Literal["beneficiary", "nominator"]
    channel: Literal["portal", "web", "sms", "whatsapp"]
    reason_code: ObjectionReason
    reason_text: str
    evidence: tuple[Evidence, ...]
    caller: Principal | None


@dataclass(frozen=True)
class ReadObjections:
    caller: Principal
    nomination_id: uuid.UUID


@dataclass(frozen=True)
class ReceiveLead:
    """A worker who asked to be nominated (web form, SMS/WhatsApp ``DAFTAR``); validated by the handler."""

    desa_code: str
    full_name: str
    phone: str
    occupation: str
    channel: Literal["web", "sms", "whatsapp"]


@dataclass(frozen=True)
class ListLeads:
    """The leads of the caller's area, of one desa of it when ``desa_code`` is given."""

    caller: Principal
    desa_code: str | None = None
    limit: int = 200


@dataclass(frozen=True)
class MarkLead:
    caller: Principal
    lead_id: uuid.UUID
    state: Literal["contacted", "nominated"]
