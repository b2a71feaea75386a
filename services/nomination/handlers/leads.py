"""Leads: receiving one (``receive_lead``: the web form, SMS/WhatsApp ``DAFTAR``), listing an area's leads for its
officials (audited), marking one contacted or nominated. The rules are domain/leads.py's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from services.nomination import domain
from services.nomination.commands import ListLeads, MarkLead, ReceiveLead
from services.nomination.domain import leads as rules
from services.nomination.repository import leads as repo
from shared import audit
from shared.auth import system
from shared.contracts import LeadReceived, new_envelope
from shared.db import Conn
from shared.keys import person_key
from shared.logs import get_logger
from shared.messaging import Handled
from shared.regions import default_regions

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps

log = get_logger(__name__)
PRODUCER = "nomination"


@dataclass(frozen=True)
class LeadReceipt:
    lead_id: uuid.UUID


async def receive_lead(deps: Deps, conn: Conn, command: ReceiveLead) -> Handled[LeadReceipt]:
    """Validate (``InvalidLead`` naming the field), dedup and store a lead, and give ``LeadReceived`` back (keyed by
    the HMAC of the mobile number, correlated by the lead id). The same number in the same desa within
    ``LEAD_DEDUP_DAYS`` answers with the earlier lead's id and no event."""
    settings = deps.settings
    valid = rules.check_lead(
        command.desa_code,
        command.full_name,
        command.phone,
        command.occupation,
        default_regions(),
        settings.programme_regency,
    )
    await repo.lock_key(conn, valid.phone, valid.desa_code)
    now = datetime.now(UTC)
    earlier = await repo.recent(conn, valid.phone, valid.desa_code, now - timedelta(days=rules.LEAD_DEDUP_DAYS))
    if earlier is not None:
        return Handled(LeadReceipt(earlier))
    lead_id = uuid.uuid4()
    key = person_key(valid.phone, settings.person_key_secret)
    row = {
        "id": lead_id,
        "person_key": key,
        "desa_code": valid.desa_code,
        "full_name": valid.full_name,
        "phone": valid.phone,
        "occupation": valid.occupation,
        "channel": command.channel,
        "received_at": now,
    }
    await repo.insert(conn, row)
    payload = LeadReceived(
        lead_id=lead_id,
        desa_code=valid.desa_code,
        full_name=valid.full_name,
        phone=valid.phone,
        occupation=valid.occupation,
        channel=command.channel,
        received_at=now,
    )
    envelope = new_envelope(payload, producer=PRODUCER, person_key=key, correlation_id=lead_id)
    detail = {"desa_code": valid.desa_code, "channel": command.channel}
    await audit.record(conn, system(PRODUCER), "lead.received", lead_id, detail)
    log.info("lead received", lead_id=str(lead_id), desa_code=valid.desa_code)
    return Handled(LeadReceipt(lead_id), [envelope])


@dataclass(frozen=True)
class OutOfArea:
    """The desa asked for lies outside the caller's area."""


async def list_leads(deps: Deps, conn: Conn, command: ListLeads) -> Handled[list[asyncpg.Record] | OutOfArea]:
    """The leads of the caller's area (one desa of it when asked), newest first; audited as one row."""
    caller = command.caller
    if command.desa_code is not None and not domain.covers(caller.area, command.desa_code):
        await audit.record(conn, caller, "lead.list_denied", None, {"desa_code": command.desa_code})
        return Handled(OutOfArea())
    rows = await repo.in_area(conn, caller.area, command.desa_code, command.limit)
    detail = {"area": caller.area, "desa_code": command.desa_code, "count": len(rows)}
    await audit.record(conn, caller, "lead.listed", None, detail)
    return Handled(rows)


async def mark(deps: Deps, conn: Conn, command: MarkLead) -> Handled[bool]:
    """Mark a lead of the caller's area contacted or nominated (False: absent or outside the area, audited)."""
    desa = await repo.desa_of(conn, command.lead_id)
    if desa is None or not domain.covers(command.caller.area, desa):
        if desa is not None:
            await audit.record(conn, command.caller, "lead.mark_denied", command.lead_id, {"reason": "out_of_area"})
        return Handled(False)
    await repo.mark(conn, command.lead_id, command.state, command.caller.name)
    await audit.record(conn, command.caller, "lead.marked", command.lead_id, {"state": command.state})
    return Handled(True)
