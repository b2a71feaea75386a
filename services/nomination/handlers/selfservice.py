"""The self-check's calls into objections and leads (handlers/objections.py, handlers/leads.py,
repository/objections.py: another part of issue 15), in one place.

Those modules land in the same service on their own branch; until both are merged this module finds them at run
time (``importlib``), so the self-check works, and is tested, without them: an objection or a lead then answers
``UNAVAILABLE`` and a status shows no objection. Once merged, the calls below are the whole interface:

- ``handlers.objections.file_objection(deps, conn, commands.FileObjection(...)) -> Handled[ObjectionReceipt]``,
  raising ``errors.NotObjectable``;
- ``handlers.leads.receive_lead(deps, conn, commands.ReceiveLead(...)) -> Handled[LeadReceipt]``, raising
  ``errors.InvalidField``;
- ``repository.objections.latest(conn, nomination_id) -> ObjectionSummary | None``.

Each call runs in a savepoint of the caller's transaction: a refusal undoes only what that call wrote.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from services.nomination import errors
from services.nomination.domain.selfcheck import OpenObjection
from shared.contracts import Envelope, Evidence, ObjectionReason
from shared.db import Conn

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


@dataclass(frozen=True)
class Unavailable:
    """Why nothing was filed: ``not_objectable`` (nothing to object to, or one already open), ``invalid`` (a field
    the leads handler refused), ``unavailable`` (the objections or leads part is not installed)."""

    reason: Literal["not_objectable", "invalid", "unavailable"]


@dataclass(frozen=True)
class Filed:
    objection_id: uuid.UUID
    state: str
    due_by: date


@dataclass(frozen=True)
class LeadTaken:
    lead_id: uuid.UUID


UNAVAILABLE = Unavailable("unavailable")


def _module(name: str) -> ModuleType | None:
    full = f"services.nomination.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


async def latest_objection(conn: Conn, nomination_id: uuid.UUID) -> OpenObjection | None:
    repository = _module("repository.objections")
    if repository is None:
        return None
    summary: OpenObjection | None = await repository.latest(conn, nomination_id)
    return summary


async def file_objection(
    deps: Deps,
    conn: Conn,
    *,
    nomination_id: uuid.UUID,
    channel: Literal["web", "sms", "whatsapp"],
    reason_code: ObjectionReason,
    reason_text: str,
    evidence: tuple[Evidence, ...] = (),
) -> tuple[Filed | Unavailable, Sequence[Envelope[Any]]]:
    """The person's own objection (``filed_by="beneficiary"``, no signed-in caller) and the events to publish."""
    handlers, commands = _module("handlers.objections"), _module("commands")
    command_cls = getattr(commands, "FileObjection", None)
    not_objectable: Any = getattr(errors, "NotObjectable", None)
    if handlers is None or command_cls is None or not_objectable is None:
        return UNAVAILABLE, ()
    command = command_cls(
        nomination_id=nomination_id,
        filed_by="beneficiary",
        channel=channel,
        reason_code=reason_code,
        reason_text=reason_text,
        evidence=evidence,
        caller=None,
    )
    try:
        async with conn.transaction():  # a savepoint
            handled = await handlers.file_objection(deps, conn, command)
    except not_objectable:
        return Unavailable("not_objectable"), ()
    receipt = handled.answer
    return Filed(receipt.objection_id, str(receipt.state), receipt.due_by), tuple(handled.events)


async def receive_lead(
    deps: Deps,
    conn: Conn,
    *,
    desa_code: str,
    full_name: str,
    phone: str,
    occupation: str,
    channel: Literal["web", "sms", "whatsapp"],
) -> tuple[LeadTaken | Unavailable, Sequence[Envelope[Any]]]:
    handlers, commands = _module("handlers.leads"), _module("commands")
    command_cls = getattr(commands, "ReceiveLead", None)
    if handlers is None or command_cls is None:
        return UNAVAILABLE, ()
    command = command_cls(desa_code=desa_code, full_name=full_name, phone=phone, occupation=occupation, channel=channel)
    try:
        async with conn.transaction():  # a savepoint
            handled = await handlers.receive_lead(deps, conn, command)
    except errors.InvalidField:
        return Unavailable("invalid"), ()
    return LeadTaken(handled.answer.lead_id), tuple(handled.events)
