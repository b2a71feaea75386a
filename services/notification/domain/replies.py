"""What the outreach events ask to be told, without I/O: the reply to an inbound message, the messages about an
objection to the person and the nominator, and a lead to a desa's officials.

Replies and lead notices are not about a nomination: they are stored as deliveries of their own purpose
(``replytexts.REPLY`` / ``replytexts.LEAD``; ``nomination_id`` holds the inbound message id / the lead id) and emit
no ``NotificationSent`` / ``NotificationFailed`` (nomination's progress fold would dead-letter them). Objection
messages are about a nomination and emit them like any outcome message (purposes ``objection_received`` and
``objection_decided``, which nomination's fold does not count as outcomes).
"""

from __future__ import annotations

import uuid
from typing import Any

from services.notification.domain.plan import DELIVERY_NAMESPACE, Planned, delivery_id, plan_delivery
from services.notification.domain.replytexts import (
    ANSWER_TEMPLATES,
    LEAD,
    OBJECTION_STATES_ID,
    OMBUDSMAN,
    REPLY,
)
from services.notification.domain.routes import ChannelPolicy, Route
from services.notification.domain.texts import BPJS_CALL_CENTRE, END_REASONS_ID, short_reference, village_name
from shared import reasons as reason_catalogue
from shared.contracts import InboundMessageAnswered, LeadReceived, Nominator, ObjectionFiled, ObjectionReviewed
from shared.formats import OCCUPATIONS, Purpose
from shared.regions import RegionIndex


def answer_template(answer: InboundMessageAnswered) -> tuple[str, dict[str, Any]]:
    """The reply's template and variables for one answer kind."""
    template = ANSWER_TEMPLATES[answer.kind]
    if answer.kind == "status" and answer.status is not None:
        return template, status_variables(answer)
    if answer.kind == "status":  # a status answer without its status: say nothing rather than guess
        return ANSWER_TEMPLATES["no_match"], {}
    if answer.kind == "objection_received":
        reference = short_reference(answer.objection_id) if answer.objection_id else "-"
        return template, {"reference": reference, "due_by": answer.due_by, "full_name": None, "nomination_ref": None}
    if answer.kind == "help":
        return template, {"help_topic": (answer.help_topic or "").upper() or None}
    return template, {}


def status_variables(answer: InboundMessageAnswered) -> dict[str, Any]:
    status = answer.status
    assert status is not None
    codes = list(dict.fromkeys(status.reason_codes))
    if status.state == "ended":
        first = END_REASONS_ID.get(codes[0], "") if codes else ""
        reason = f"Alasan: {first}." if first else ""
    else:
        reason = reason_catalogue.fix_text(codes[0]) if codes else reason_catalogue.fix_text("")
    return {
        "state": status.state,
        "waitlist_position": status.waitlist_position,
        "membership_number": status.membership_number,
        "covered_since": status.covered_since,
        "covered_until": status.covered_until,
        "reason": reason,
        "more_reasons": max(len(codes) - 1, 0) if status.state == "not_eligible" else 0,
        "objection_ref": short_reference(status.objection_id) if status.objection_id else None,
        "objection_state": OBJECTION_STATES_ID.get(status.objection_state or "", None),
        "objection_due_by": status.objection_due_by,
        "call_centre": BPJS_CALL_CENTRE,
    }


def objection_planned(
    event_id: uuid.UUID, payload: ObjectionFiled | ObjectionReviewed, policy: ChannelPolicy
) -> list[Planned]:
    """The person and the nominator told of a filed or decided objection; an objection taken in review: nothing."""
    reference = short_reference(payload.objection_id)
    nomination_ref = short_reference(payload.nomination_id)
    if isinstance(payload, ObjectionFiled):
        purpose: Purpose = "objection_received"
        common: dict[str, Any] = {"reference": reference, "due_by": payload.due_by, "nomination_ref": nomination_ref}
    elif payload.state in ("upheld", "dismissed"):
        purpose = "objection_decided"
        common = {
            "reference": reference,
            "outcome": payload.state,
            "outcome_text": OBJECTION_STATES_ID[payload.state],
            "ground": payload.ground,
            "note": " ".join(payload.note.split()),
            "ombudsman": OMBUDSMAN,
        }
    else:
        return []
    person = plan_delivery(event_id, purpose, "beneficiary", {**common, "full_name": None}, payload.phone, policy)
    nominator = plan_delivery(
        event_id, purpose, "nominator", {**common, "full_name": payload.full_name}, payload.nominator, policy
    )
    return [person, nominator]


def lead_variables(lead: LeadReceived, regions: RegionIndex) -> dict[str, Any]:
    return {
        "full_name": " ".join(lead.full_name.split()),
        "phone": lead.phone,
        "occupation": OCCUPATIONS.get(lead.occupation, lead.occupation),
        "village": village_name(lead.desa_code, regions),
    }


def lead_delivery_id(lead_id: uuid.UUID, contact: str) -> uuid.UUID:
    """Stable per (lead, official): a redelivered lead maps onto the same delivery."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"lead/{lead_id}/{contact}")


def disnaker_contact(lead: LeadReceived, contacts: dict[str, str], regions: RegionIndex) -> Nominator | None:
    """The regency's Disnaker contact (setting ``disnaker_contacts``) for a desa with no known official."""
    regency = regions.regency_of(lead.desa_code) or ".".join(lead.desa_code.split(".")[:2])
    contact = contacts.get(regency)
    if not contact:
        return None
    email, phone = (contact, None) if "@" in contact else (None, contact)
    return Nominator(type="disnaker", name="Disnaker", region_code=regency, phone=phone, email=email)


def reply_routes(channel: str, phone: str) -> list[Route]:
    """The reply goes back on the channel the message came in on, to the number it came from."""
    return [Route(channel, phone)]


def reply_delivery_id(message_id: uuid.UUID) -> uuid.UUID:
    """Stable per inbound message: one reply per message answered."""
    return delivery_id(message_id, "beneficiary", REPLY)


__all__ = ["LEAD", "REPLY"]
