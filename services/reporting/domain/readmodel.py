"""The read model's rules: folding events into one row per nomination (the figures derived from the rows are in
figures.py).

Pure functions only. Events of one nomination arrive on different topics, so in any order (a confirmation can be
read before the submission it follows); a row therefore keeps *when* each thing happened and its status is derived
from everything known, never from the last event read. Merging is commutative: the earliest time of a milestone
wins, the latest review request wins, counters add up, so replaying or reordering batches gives the same row.
Rows hold codes, dates and counts only: never a NIK, a name or a phone number.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting.errors import NoReportingRule, RowsMismatch
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    Envelope,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    NotificationFailed,
    NotificationSent,
    Payload,
)

WITA = ZoneInfo("Asia/Makassar")  # Kalimantan Timur: days are counted in local time
STATUSES = ("submitted", "in_review", "verified", "rejected", "waitlisted", "refused", "enrolled", "ended")

# Milestones: the first time wins (a redelivery or a replay never moves it).
_EARLIEST = ("submitted_at", "verified_at", "rejected_at", "waitlisted_at", "refused_at", "enrolled_at")
_LATEST = ("review_requested_at",)  # a second review request re-opens the review
_COUNTERS = ("notifications_sent", "notifications_failed")


@dataclass(frozen=True)
class NominationRow:
    """What reporting knows about one nomination; ``None`` means "not known (yet)"."""

    nomination_id: uuid.UUID
    desa_code: str | None = None
    occupation: str | None = None
    nominator_type: str | None = None
    submitted_at: datetime | None = None
    review_requested_at: datetime | None = None
    verified_at: datetime | None = None
    rejected_at: datetime | None = None
    waitlisted_at: datetime | None = None
    enrolled_at: datetime | None = None
    refused_at: datetime | None = None  # BPJS refused the registration (no cover; the seat went to the next)
    refusal_code: str | None = None
    ended_on: date | None = None
    end_reason: str | None = None
    funding_source: str | None = None
    programme_year: int | None = None
    rejection_reasons: tuple[str, ...] = ()
    notifications_sent: int = 0
    notifications_failed: int = 0

    @property
    def kecamatan_code(self) -> str | None:
        """``64.08.01.2001`` -> ``64.08.01``."""
        return self.desa_code.rsplit(".", 1)[0] if self.desa_code and self.desa_code.count(".") == 3 else None

    @property
    def status(self) -> str:
        """Where the nomination is, from everything known (see the module docstring)."""
        if self.ended_on is not None:
            return "ended"
        if self.enrolled_at is not None:
            return "enrolled"
        if self.refused_at is not None:  # after a waitlist place, when the promoted seat was refused
            return "refused"
        if self.waitlisted_at is not None:
            return "waitlisted"
        if self.rejected_at is not None:
            return "rejected"
        decided = self.verified_at
        if self.review_requested_at is not None and (decided is None or decided < self.review_requested_at):
            return "in_review"
        if self.verified_at is not None:
            return "verified"
        return "submitted"


def facts_of(envelope: Envelope[Any]) -> NominationRow:
    """What one event says about its nomination, as a row holding only those facts."""
    p: Payload = envelope.payload
    at = envelope.occurred_at
    nid: uuid.UUID = p.nomination_id  # type: ignore[attr-defined]  # every payload folded here names its nomination; Payload itself does not
    match p:
        case NominationSubmitted():
            return NominationRow(nid, p.address.desa_code, p.occupation, p.nominator.type, submitted_at=at)
        case IdentityReviewRequested():
            return NominationRow(nid, p.desa_code, review_requested_at=at)
        case IdentityVerified():
            return NominationRow(nid, p.desa_code, p.occupation, p.nominator.type, verified_at=at)
        case IdentityRejected():
            return NominationRow(
                nid,
                p.desa_code,
                nominator_type=p.nominator.type,
                rejected_at=at,
                rejection_reasons=tuple(r.code for r in p.reasons),
            )
        case EnrolmentWaitlisted():
            return NominationRow(nid, p.desa_code, waitlisted_at=at, programme_year=p.programme_year)
        case EnrolmentConfirmed():
            return NominationRow(
                nid, p.desa_code, enrolled_at=at, funding_source=p.funding_source, programme_year=p.programme_year
            )
        case EnrolmentEnded():
            # coverage_end is the last day covered: from the next day on the person no longer counts.
            return NominationRow(
                nid,
                p.desa_code,
                ended_on=p.coverage_end + timedelta(days=1),
                end_reason=p.reason,
                funding_source=p.funding_source,
                programme_year=p.programme_year,
            )
        case EnrolmentRefused():
            return NominationRow(nid, p.desa_code, refused_at=at, refusal_code=p.refusal_code)
        case NotificationSent():
            return NominationRow(nid, notifications_sent=1)
        case NotificationFailed():
            return NominationRow(nid, notifications_failed=1)
    raise NoReportingRule(type(p).__name__)


def merge(old: NominationRow | None, new: NominationRow) -> NominationRow:
    """Both rows' facts together (commutative and associative, see the module docstring)."""
    if old is None:
        return new
    if old.nomination_id != new.nomination_id:
        raise RowsMismatch("rows of different nominations")
    changes: dict[str, Any] = {}
    for f in fields(NominationRow):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name in _COUNTERS:
            changes[f.name] = a + b
        elif f.name == "rejection_reasons":
            changes[f.name] = a + tuple(code for code in b if code not in a)
        elif a is None or b is None:
            changes[f.name] = a if b is None else b
        elif f.name in _EARLIEST or f.name == "ended_on":
            changes[f.name] = min(a, b)
        elif f.name in _LATEST:
            changes[f.name] = max(a, b)
        else:
            changes[f.name] = a  # codes known first stay (they do not change within one nomination)
    return replace(old, **changes)


def fold(envelopes: Iterable[Envelope[Any]]) -> dict[uuid.UUID, NominationRow]:
    """The facts of a batch, merged per nomination."""
    out: dict[uuid.UUID, NominationRow] = {}
    for envelope in envelopes:
        facts = facts_of(envelope)
        out[facts.nomination_id] = merge(out.get(facts.nomination_id), facts)
    return out


def local_day(at: datetime) -> date:
    """The calendar day in Kalimantan Timur of an instant."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(WITA).date()
