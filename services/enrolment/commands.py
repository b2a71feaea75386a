"""The enrolment service's commands: what a route, a job or the command line asks a handler to do, typed and frozen.

A command acting for a caller carries ``caller``: the handler audits in the same transaction, with that principal.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.enrolment.domain import Answer
from shared.auth import Principal


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- reads of the HTTP API ----------------------------------------------------------------------------------------


class ListFundingSources(Command):
    programme_year: int


class GetEnrolment(Command):
    nomination_id: uuid.UUID
    caller: Principal


class ListChanges(Command):
    nomination_id: uuid.UUID
    caller: Principal


class WaitlistSummary(Command):
    pass


class GetBudget(Command):
    programme_year: int


class CheckEnrolled(Command):
    """The DCI question of another agency: is the person with this NIK covered by this programme today?"""

    nik: str
    programme: str | None  # the programme the caller asks about; None: this one
    transaction_id: str
    caller: Principal


# --- changes ------------------------------------------------------------------------------------------------------


class EndEnrolment(Command):
    """Disnaker records that a person left the programme (deaths and moves come from the civil registry)."""

    nomination_id: uuid.UUID
    reason: Literal["became_wage_earner", "opted_out", "contributions_unpaid"]
    effective_date: date
    note: str | None
    caller: Principal


class SyncFundingSources(Command):
    """Bring the programme year's funding sources in line with the configuration (``Deps.settings``)."""


class ApplyAnswers(Command):
    """BPJS's answers for pending seats, from the registrar's HTTP round or a response file."""

    answers: tuple[Answer, ...]
    recorded_by: str


class Renew(Command):
    from_year: int
    to_year: int


class ExportRoster(Command):
    """The seats waiting for BPJS whose cover starts in ``month``."""

    month: str  # YYYY-MM


# --- the registrar ------------------------------------------------------------------------------------------------


class ClaimDuePending(Command):
    limit: int
    lease_s: float


class PostponePending(Command):
    nomination_ids: tuple[uuid.UUID, ...]
    delay_s: float
    error: str
