"""Digest rules: what an event adds to its desa's daily digest, who the desa's officials are, the digest's text.

Pure functions only; ``handlers.digests`` (the job) and ``repository.digests`` (SQL) do the I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, Literal
from zoneinfo import ZoneInfo

from services.notification.domain.plan import DELIVERY_NAMESPACE
from services.notification.domain.routes import ChannelPolicy, Route, nominator_routes
from services.notification.domain.schedule import WITA
from services.notification.domain.texts import explain_reasons, short_reference
from services.notification.errors import InvalidAddress
from shared.contracts import EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected, Nominator, Payload

DigestKind = Literal["enrolled", "waitlisted", "rejected"]
NO_OFFICIAL = "no official known for this desa"


@dataclass(frozen=True)
class DigestPolicy:
    """Whether desas get a daily digest, made once the local time passes ``at``; ``hold``: a rejection's message
    to a desa's official travels only inside the digest (held until it is sent)."""

    enabled: bool = False
    hold: bool = False
    at: time = time(16, 0)
    zone: ZoneInfo = WITA


@dataclass(frozen=True)
class DigestItem:
    """One line of a desa's daily digest."""

    kind: DigestKind
    desa_code: str
    nomination_id: uuid.UUID
    detail: dict[str, Any] = field(hash=False)


def digest_item(payload: Payload) -> DigestItem | None:
    """What an event adds to its desa's digest (enrolments, waitlistings and rejections to fix), or None."""
    match payload:
        case EnrolmentConfirmed():
            kind: DigestKind = "enrolled"
        case EnrolmentWaitlisted():
            kind = "waitlisted"
        case IdentityRejected():
            detail = {
                "reference": short_reference(payload.nomination_id),
                "full_name": payload.full_name,
                "codes": list(dict.fromkeys(r.code for r in payload.reasons)),
            }
            return DigestItem("rejected", payload.desa_code, payload.nomination_id, detail)
        case _:
            return None
    detail = {"reference": short_reference(payload.nomination_id), "full_name": payload.full_name}
    return DigestItem(kind, payload.desa_code, payload.nomination_id, detail)


def desa_officials(payload: Payload, policy: ChannelPolicy) -> tuple[str, list[Route]] | None:
    """(desa code, routes) of the event's nominator when it is an official of the desa (RT or desa), else None."""
    nominator: Nominator | None = getattr(payload, "nominator", None)
    desa_code: str | None = getattr(payload, "desa_code", None)
    if nominator is None or desa_code is None or nominator.type not in ("rt", "desa"):
        return None
    try:
        return desa_code, nominator_routes(nominator, policy)
    except InvalidAddress:
        return None


def digest_variables(village: str, day: date, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The digest template's variables from the items a digest takes (``kind`` and ``detail`` each)."""
    rejected = [
        {**i["detail"], "reasons": explain_reasons(i["detail"].get("codes", []))}
        for i in items
        if i["kind"] == "rejected"
    ]
    return {
        "village": village,
        "day": day,
        "enrolled": sum(1 for i in items if i["kind"] == "enrolled"),
        "waitlisted": sum(1 for i in items if i["kind"] == "waitlisted"),
        "rejected_count": len(rejected),
        "rejected": rejected,
        "rejected_refs": ", ".join(r["reference"] for r in rejected),
    }


def digest_delivery_id(desa_code: str, day: date, contact: str) -> uuid.UUID:
    """Stable per (desa, day, official): making the same digest twice maps onto the same delivery."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"digest/{desa_code}/{day.isoformat()}/{contact}")
