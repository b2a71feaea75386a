"""What the verification service is asked to do, one frozen model per use case (shared/messaging.py).

A route, a job or the command line builds one and runs its handler with ``messaging.run``. A command acting for
a caller carries ``caller``: the authenticated principal recorded in the audit rows, never a name from a body.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shared.auth import Principal

Verdict = Literal["approve", "reject"]
Via = Literal["api", "workspace"]  # which door a reviewer came through (the audit says so; the workspace scopes)


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)


# ------------------------------------------------------------------------------------------------ reads


class ReadVerification(Command):
    caller: Principal
    nomination_id: uuid.UUID


class ListSnapshots(Command):
    limit: int = 10


class ListReviews(Command):
    """The REST list: by status and desa, paged by id."""

    caller: Principal
    status: Literal["open", "approved", "rejected"] = "open"
    desa_code: str | None = None
    after_id: int = 0
    limit: int = 100


class ReviewQueue(Command):
    """The workspace's queue: open cases of an area, optionally of one reason."""

    caller: Principal
    kecamatan: str | None = None
    reason_code: str | None = None
    limit: int = 200


class InspectReview(Command):
    """A case with its evidence; through the workspace, a case outside the caller's area is not shown."""

    caller: Principal
    review_id: int
    via: Via = "api"


# ------------------------------------------------------------------------------------------------ reviews


class DecideReview(Command):
    caller: Principal
    review_id: int
    verdict: Verdict
    reason_code: str | None = None
    note: str = ""
    expected_version: int | None = None  # the case's version when the reviewer opened it
    via: Via = "api"


class NoteConflict(Command):
    """A workspace decision that came second: recorded, nothing of it applied."""

    caller: Principal
    review_id: int
    verdict: str


# ------------------------------------------------------------------------------------------------ registry


class RetryPending(Command):
    """One round of the retry job: the due pending look-ups, at most ``limit``."""

    limit: int


class DciCallback(Command):
    """A signed DCI callback as received (its JSON body; the handler verifies it before reading it)."""

    body: Mapping[str, Any]


class ClaimSubscription(Command):
    """Record a death subscription about to be asked for, unless one exists (then the answer is False)."""

    transaction_id: str


class SettleSubscription(Command):
    transaction_id: str
    status: Literal["active", "refused"]
    code: str | None = None


class LoadRegistry(Command):
    """Load a civil-registry CSV extract as the new snapshot (``load-registry``)."""

    path: Path
    source_name: str | None = None
    sha256: str
    today: date


class LoadRoster(Command):
    """Load the wage-earner roster (``load-wage-earners``)."""

    path: Path
    source_name: str | None = None
    sha256: str


class ReadMembers(Command):
    """A page of the verified members (the yearly re-check), after ``after`` by nomination id."""

    after: uuid.UUID | None = None
    limit: int = 500


class Member(Command):
    nomination_id: uuid.UUID
    person_key: str
    nik: str
    programme_regency: str


class RecheckPage(Command):
    """Announce what the registry's answers (fetched before the transaction) changed for these members."""

    members: tuple[Member, ...]
    effective: date


# ------------------------------------------------------------------------------------------------ objections

ObjectionVerdict = Literal["upheld", "dismissed"]


class ObjectionQueue(Command):
    """Open objections (received, in review) by deadline, oldest first; through the workspace, of the caller's area."""

    caller: Principal
    state: Literal["open", "upheld", "dismissed"] = "open"
    limit: int = 200
    via: Via = "api"


class InspectObjection(Command):
    caller: Principal
    objection_id: uuid.UUID
    via: Via = "api"


class ReadEvidence(Command):
    caller: Principal
    objection_id: uuid.UUID
    position: int
    via: Via = "api"


class TakeUpObjection(Command):
    caller: Principal
    objection_id: uuid.UUID
    expected_version: int | None = None
    via: Via = "api"


class DecideObjection(Command):
    caller: Principal
    objection_id: uuid.UUID
    verdict: ObjectionVerdict
    note: str
    expected_version: int | None = None
    via: Via = "api"


class RerunTarget(Command):
    """Before a decision's transaction: the NIK an upheld re-run will ask the registry about (None: no re-run)."""

    objection_id: uuid.UUID
