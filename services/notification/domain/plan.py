"""Planning: who is told what about an incoming event, on which routes, with which template and variables.

An incoming event becomes one ``Planned`` delivery per recipient: its purpose, the recipient's role, the routes
(channel + normalised address) or the reason there are none, and the template with its variables. Rendering the
text is ``messages``' job; sending it is the dispatch job's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from services.notification.domain.dispatch import DOCUMENT_CHANNELS
from services.notification.domain.routes import ChannelPolicy, Route, beneficiary_routes, nominator_routes
from services.notification.domain.texts import (
    BPJS_CALL_CENTRE,
    END_REASONS_ID,
    JKM_DEATH_BENEFIT,
    SUBJECTS,
    TEMPLATE_VERSIONS,
    explain_reasons,
    short_reference,
    village_name,
)
from services.notification.errors import InvalidAddress
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    Nominator,
    Payload,
)
from shared.formats import Purpose
from shared.regions import RegionIndex

Role = Literal["beneficiary", "nominator"]


@dataclass(frozen=True)
class Planned:
    """One message to one recipient about one event: sendable (``routes``, in order) or failed at once (``failure``)."""

    delivery_id: uuid.UUID
    purpose: Purpose
    recipient_role: Role
    template: str
    template_version: int
    variables: dict[str, Any] = field(hash=False)
    routes: tuple[Route, ...]
    failure: str | None
    # The channel the message would have taken, reported with a failure before any route existed.
    intended_channel: str | None = None

    @property
    def route(self) -> Route | None:
        return self.routes[0] if self.routes else None


DELIVERY_NAMESPACE = uuid.UUID("2f0c1bde-93a4-4c55-9a43-0c4e6f7a2b61")


def delivery_id(event_id: uuid.UUID, recipient_role: str, purpose: str) -> uuid.UUID:
    """Stable per (event, recipient, purpose): a redelivered event maps onto the same delivery."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{event_id}/{recipient_role}/{purpose}")


def outcome_told(payload: Payload) -> str:
    """What an event tells the people concerned, as a key: the same outcome twice (a republished confirmation, a
    promotion confirmed again) is told once. A seat in another programme year (a renewal) is another outcome."""
    year = getattr(payload, "programme_year", None)
    outcome = {
        "EnrolmentConfirmed": "enrolled",
        "EnrolmentWaitlisted": "waitlisted",
        "EnrolmentEnded": "ended",
        "IdentityRejected": "rejected",
    }.get(payload.event_type, payload.event_type)
    return outcome if year is None else f"{outcome}:{year}"


def plan(event_id: uuid.UUID, payload: Payload, policy: ChannelPolicy, regions: RegionIndex) -> list[Planned]:
    """The deliveries an incoming event asks for.

    When the beneficiary's phone is unusable, the nominator is told (template ``contact_invalid``, under the same
    purpose with role nominator) so that the number gets corrected instead of the message silently vanishing.
    """
    match payload:
        case EnrolmentConfirmed():
            purpose: Purpose = "enrolment_promoted" if payload.promoted_from_waitlist else "enrolment_confirmed"
            variables: dict[str, Any] = {
                "membership_number": payload.membership_number,
                "funding_source": payload.funding_source_name,
                "coverage_start": payload.coverage_start,
                "jkm_benefit": JKM_DEATH_BENEFIT,
                "call_centre": BPJS_CALL_CENTRE,
            }
            told = _to_beneficiary(event_id, purpose, variables, payload, policy, regions)
            return told + _membership_card(event_id, payload, policy, regions)
        case EnrolmentWaitlisted():
            variables = {"position": payload.position, "programme_year": payload.programme_year}
            return _to_beneficiary(event_id, "enrolment_waitlisted", variables, payload, policy, regions)
        case IdentityRejected():
            variables = {
                "full_name": payload.full_name,
                "reference": short_reference(payload.nomination_id),
                "village": village_name(payload.desa_code, regions),
                "reasons": explain_reasons([r.code for r in payload.reasons]),
            }
            return [plan_delivery(event_id, "identity_rejected", "nominator", variables, payload.nominator, policy)]
        case EnrolmentRefused():
            # To the nominator, who can get the person's data put right: BPJS's reason, as BPJS gave it.
            variables = {
                "full_name": payload.full_name,
                "reference": short_reference(payload.nomination_id),
                "village": village_name(payload.desa_code, regions),
                "refusal_code": payload.refusal_code,
                "refusal_reason": payload.refusal_reason,
            }
            return [plan_delivery(event_id, "enrolment_refused", "nominator", variables, payload.nominator, policy)]
        case EnrolmentEnded(reason="deceased"):
            variables = {
                "membership_number": payload.membership_number,
                "full_name": payload.full_name,
                "coverage_end": payload.coverage_end,
                "jkm_benefit": JKM_DEATH_BENEFIT,
                "call_centre": BPJS_CALL_CENTRE,
            }
            # To the family through the beneficiary's phone, and to the nominator, who often knows the family.
            family = plan_delivery(
                event_id, "death_benefit_information", "beneficiary", variables, payload.phone, policy
            )
            official = plan_delivery(
                event_id, "death_benefit_information", "nominator", variables, payload.nominator, policy
            )
            return [family, official]
        case EnrolmentEnded():
            variables = {
                "membership_number": payload.membership_number,
                "coverage_end": payload.coverage_end,
                "reason": END_REASONS_ID.get(payload.reason, payload.reason),
                "call_centre": BPJS_CALL_CENTRE,
            }
            return _to_beneficiary(event_id, "enrolment_ended", variables, payload, policy, regions)
    raise TypeError(f"no notification for {type(payload).__name__}")


def _membership_card(
    event_id: uuid.UUID, payload: EnrolmentConfirmed, policy: ChannelPolicy, regions: RegionIndex
) -> list[Planned]:
    """The member's card (a PDF, signed by notification) on the routes that carry a file (WhatsApp, e-mail), beside
    the confirmation. None when the phone is reached only by SMS (the confirmation says it all) or is unusable (the
    confirmation's contact note already tells the nominator)."""
    if not policy.membership_cards:
        return []
    try:
        routes = [r for r in beneficiary_routes(payload.phone, policy) if r.channel in DOCUMENT_CHANNELS]
    except InvalidAddress:
        return []
    if not routes:
        return []
    region = regions.get(payload.desa_code)
    card = {
        "full_name": payload.full_name,
        "membership_number": payload.membership_number,
        "funding_source_name": payload.funding_source_name,
        "coverage_start": payload.coverage_start.isoformat(),
        "desa_name": region.name if region else payload.desa_code,
        "nomination_id": str(payload.nomination_id),
    }
    variables = {
        "membership_number": payload.membership_number,
        "funding_source": payload.funding_source_name,
        "coverage_start": payload.coverage_start,
        "call_centre": BPJS_CALL_CENTRE,
        "card": card,
    }
    planned = plan_delivery(event_id, "membership_card", "beneficiary", variables, payload.phone, policy)
    return [replace(planned, routes=tuple(routes), intended_channel=routes[0].channel)]


def _to_beneficiary(
    event_id: uuid.UUID,
    purpose: Purpose,
    variables: dict[str, Any],
    payload: EnrolmentConfirmed | EnrolmentWaitlisted | EnrolmentEnded,
    policy: ChannelPolicy,
    regions: RegionIndex,
) -> list[Planned]:
    planned = plan_delivery(event_id, purpose, "beneficiary", variables, payload.phone, policy)
    if planned.failure is None:
        return [planned]
    note = {
        "full_name": payload.full_name,
        "reference": short_reference(payload.nomination_id),
        "village": village_name(payload.desa_code, regions),
        "subject": SUBJECTS[purpose],
        "cause": planned.failure,
    }
    contact = plan_delivery(event_id, purpose, "nominator", note, payload.nominator, policy, template="contact_invalid")
    return [planned, contact]


def plan_delivery(
    event_id: uuid.UUID,
    purpose: Purpose,
    role: Role,
    variables: dict[str, Any],
    contact: str | Nominator,
    policy: ChannelPolicy,
    template: str | None = None,
) -> Planned:
    routes: list[Route] = []
    failure: InvalidAddress | None = None
    try:
        routes = (
            nominator_routes(contact, policy) if isinstance(contact, Nominator) else beneficiary_routes(contact, policy)
        )
    except InvalidAddress as exc:
        failure = exc
    template = template or purpose
    return Planned(
        delivery_id=delivery_id(event_id, role, purpose),
        purpose=purpose,
        recipient_role=role,
        template=template,
        template_version=TEMPLATE_VERSIONS[template],
        variables=variables,
        routes=tuple(routes),
        failure=failure.cause if failure else None,
        intended_channel=routes[0].channel if routes else failure.channel if failure else None,
    )
