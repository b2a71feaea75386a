"""The self-check's calls into objections and leads (handlers/objections.py, handlers/leads.py,
repository/objections.py), in one place:

- ``handlers.objections.file_objection(deps, conn, commands.FileObjection(...)) -> Handled[ObjectionReceipt]``,
  raising ``errors.NotObjectable`` or ``errors.EvidenceRefused``;
- ``handlers.leads.receive_lead(deps, conn, commands.ReceiveLead(...)) -> Handled[LeadReceipt]``, raising
  ``errors.InvalidField``;
- ``repository.objections.latest(conn, nomination_id) -> ObjectionSummary | None``.

Each call runs in a savepoint of the caller's transaction: a refusal undoes only what that call wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from services.nomination import commands, errors
from services.nomination.domain.selfcheck import OpenObjection
from services.nomination.handlers import leads, objections
from services.nomination.repository import objections as objection_rows
from shared.contracts import Envelope, Evidence, ObjectionReason
from shared.db import Conn

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


@dataclass(frozen=True)
class Unavailable:
    """Why nothing was filed: ``not_objectable`` (nothing to object to, or one already open), ``invalid`` (a field
    or an evidence file the objections or leads handler refused)."""

    reason: Literal["not_objectable", "invalid"]


@dataclass(frozen=True)
class Filed:
    objection_id: uuid.UUID
    state: str
    due_by: date


@dataclass(frozen=True)
class LeadTaken:
    lead_id: uuid.UUID


async def latest_objection(conn: Conn, nomination_id: uuid.UUID) -> OpenObjection | None:
    return await objection_rows.latest(conn, nomination_id)


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
    command = commands.FileObjection(
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
            handled = await objections.file_objection(deps, conn, command)
    except errors.NotObjectable:
        return Unavailable("not_objectable"), ()
    except errors.EvidenceRefused:
        return Unavailable("invalid"), ()
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
    command = commands.ReceiveLead(
        desa_code=desa_code, full_name=full_name, phone=phone, occupation=occupation, channel=channel
    )
    try:
        async with conn.transaction():  # a savepoint
            handled = await leads.receive_lead(deps, conn, command)
    except errors.InvalidField:
        return Unavailable("invalid"), ()
    return LeadTaken(handled.answer.lead_id), tuple(handled.events)
