"""Objections (sanggahan) in the read model: one row per objection folded from ``ObjectionFiled`` and
``ObjectionReviewed``, counted by reason, state and age. Pure functions only; codes, dates and counts, no names.

The two topics arrive in any order, so a row keeps what each event says and its state is the furthest one known
(received < in_review < upheld / dismissed): a late ``in_review`` never re-opens a decided objection. The age of an
objection is counted in whole local days from its filing to ``today`` (decided ones: to the decision); it is
**overdue** when ``due_by`` has passed and it is not decided.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from services.reporting.domain.readmodel import local_day
from shared.contracts import Envelope, ObjectionFiled, ObjectionReviewed

STATES = ("received", "in_review", "upheld", "dismissed")
DECIDED = frozenset({"upheld", "dismissed"})
_RANK = {"received": 0, "in_review": 1, "upheld": 2, "dismissed": 2}
AGE_BUCKETS = ("0-7", "8-14", "15-30", ">30")
OBJECTION_EVENTS = (ObjectionFiled, ObjectionReviewed)


@dataclass(frozen=True)
class ObjectionRow:
    objection_id: uuid.UUID
    nomination_id: uuid.UUID
    state: str
    ground: str
    reason_code: str
    desa_code: str
    filed_at: datetime
    due_by: date | None = None  # only ObjectionFiled carries it
    decided_at: datetime | None = None


def facts_of(envelope: Envelope[Any]) -> ObjectionRow:
    p = envelope.payload
    match p:
        case ObjectionFiled():
            return ObjectionRow(
                p.objection_id, p.nomination_id, "received", p.ground, p.reason_code, p.desa_code, p.filed_at, p.due_by
            )
        case ObjectionReviewed():
            decided = p.reviewed_at if p.state in DECIDED else None
            return ObjectionRow(
                p.objection_id,
                p.nomination_id,
                p.state,
                p.ground,
                p.reason_code,
                p.desa_code,
                p.filed_at,
                None,
                decided,
            )
    raise TypeError(f"not an objection event: {type(p).__name__}")


def merge(old: ObjectionRow | None, new: ObjectionRow) -> ObjectionRow:
    """Both rows' facts (commutative): the furthest state, the due date where known, the first decision."""
    if old is None:
        return new
    furthest = new if _RANK[new.state] > _RANK[old.state] else old
    decided = [d for d in (old.decided_at, new.decided_at) if d is not None]
    return replace(
        furthest,
        due_by=old.due_by or new.due_by,
        decided_at=min(decided) if decided else None,
        filed_at=min(old.filed_at, new.filed_at),
    )


def fold(envelopes: Iterable[Envelope[Any]]) -> dict[uuid.UUID, ObjectionRow]:
    out: dict[uuid.UUID, ObjectionRow] = {}
    for envelope in envelopes:
        facts = facts_of(envelope)
        out[facts.objection_id] = merge(out.get(facts.objection_id), facts)
    return out


def age_days(filed_at: datetime, decided_at: datetime | None, today: date) -> int:
    end = local_day(decided_at) if decided_at is not None else today
    return max(0, (end - local_day(filed_at)).days)


def age_bucket(days: int) -> str:
    """``0-7``, ``8-14``, ``15-30`` or ``>30`` days."""
    if days <= 7:
        return AGE_BUCKETS[0]
    if days <= 14:
        return AGE_BUCKETS[1]
    if days <= 30:
        return AGE_BUCKETS[2]
    return AGE_BUCKETS[3]


def overdue(state: str, due_by: date | None, today: date) -> bool:
    """Past its decision deadline and not decided."""
    return state not in DECIDED and due_by is not None and due_by < today
