"""The events enrolment publishes, built from the verified payload a seat or a waitlist place keeps."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from services.enrolment import domain
from shared.contracts import (
    EndReason,
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    Envelope,
    IdentityVerified,
    new_envelope,
)

PRODUCER = "enrolment"


def confirmed(
    p: IdentityVerified,
    person_key: str,
    source: str,
    names: dict[str, str],
    year: int,
    start: date,
    number: str,
    promoted: bool,
    cause: uuid.UUID | None,
    restored_by: uuid.UUID | None = None,
) -> Envelope[Any]:
    payload = EnrolmentConfirmed(
        nomination_id=p.nomination_id,
        membership_number=number,
        funding_source=source,
        funding_source_name=names.get(source, source),
        programme_year=year,
        coverage_start=start,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
        promoted_from_waitlist=promoted,
        restored_by_objection=restored_by,
    )
    return new_envelope(
        payload, producer=PRODUCER, person_key=person_key, correlation_id=p.nomination_id, causation_id=cause
    )


def refused(p: IdentityVerified, person_key: str, year: int, answer: domain.Refused) -> Envelope[Any]:
    payload = EnrolmentRefused(
        nomination_id=p.nomination_id,
        programme_year=year,
        refusal_code=answer.code,
        refusal_reason=answer.reason,
        full_name=p.full_name,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    return new_envelope(payload, producer=PRODUCER, person_key=person_key, correlation_id=p.nomination_id)


def ended(
    seat: asyncpg.Record, names: dict[str, str], reason: EndReason, end: date, cause: uuid.UUID | None
) -> Envelope[Any]:
    p = IdentityVerified.model_validate(seat["payload"])
    payload = EnrolmentEnded(
        nomination_id=seat["nomination_id"],
        membership_number=seat["membership_number"],
        funding_source=seat["funding_source"],
        programme_year=seat["programme_year"],
        reason=reason,
        coverage_end=end,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    return new_envelope(
        payload, producer=PRODUCER, person_key=seat["person_key"], correlation_id=p.nomination_id, causation_id=cause
    )


def waitlisted(event: Envelope[IdentityVerified], year: int, position: int) -> Envelope[Any]:
    return waitlisted_person(event.payload, event.person_key, year, position, event.event_id)


def waitlisted_person(
    p: IdentityVerified, person_key: str, year: int, position: int, cause: uuid.UUID | None
) -> Envelope[Any]:
    payload = EnrolmentWaitlisted(
        nomination_id=p.nomination_id,
        programme_year=year,
        position=position,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    return new_envelope(
        payload, producer=PRODUCER, person_key=person_key, correlation_id=p.nomination_id, causation_id=cause
    )
