"""Enrolment handlers: load, ask the domain, save, write outbox rows. One transaction per Kafka batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from services.enrolment import domain, repository
from services.enrolment.bpjs import BpjsGateway, MembershipRequest
from services.enrolment.settings import EnrolmentSettings
from shared import logs, outbox
from shared.consumer import Handler
from shared.contracts import EnrolmentConfirmed, EnrolmentWaitlisted, Envelope, IdentityVerified, new_envelope
from shared.errors import TransientError

log = logs.get_logger(__name__)
PRODUCER = "enrolment"


@dataclass
class _Changes:
    """What one batch writes: rows of each table and the events to publish, in event order."""

    seats: list[repository.SeatRow] = field(default_factory=list)
    waitlist: list[repository.WaitlistRow] = field(default_factory=list)
    duplicates: list[repository.DuplicateRow] = field(default_factory=list)
    events: list[Envelope[Any]] = field(default_factory=list)


def identity_verified(settings: EnrolmentSettings, gateway: BpjsGateway) -> Handler[IdentityVerified]:
    """The batch handler of ``identity.verified``: a seat, a waitlist place or nothing (duplicate) per event."""
    year = settings.programme_year
    codes = [s.code for s in settings.funding_sources]
    names = {s.code: s.name for s in settings.funding_sources}

    async def handle(conn: asyncpg.Connection, events: Sequence[Envelope[IdentityVerified]]) -> None:
        # The lock comes first: everything read after it reflects every batch committed before ours.
        sources = await repository.lock_funding_sources(conn, year, codes)
        if not sources:
            # Startup syncs the configuration, so this means a replica runs with another year or other codes.
            raise TransientError(f"no funding sources {codes} for programme year {year} in the database")
        requests = [domain.Request(e.payload.nomination_id, e.payload.nik) for e in events]
        held = await repository.holdings(conn, [r.nomination_id for r in requests], [r.nik for r in requests])
        waiting = await repository.count_waiting(conn, year)
        allocation = domain.allocate(sources, requests, held, waiting)

        now = datetime.now(UTC)
        start = domain.coverage_start(now)
        decided = list(zip(events, allocation.decisions, strict=True))
        seated = [(e, d) for e, d in decided if isinstance(d, domain.Seat)]
        numbers = iter(await gateway.issue(conn, [_membership_request(e, d, year, start) for e, d in seated]))

        changes = _Changes()
        for event, decision in decided:
            if isinstance(decision, domain.Seat):
                _seat(
                    changes,
                    event,
                    decision,
                    names[decision.funding_source],
                    next(numbers),
                    gateway.issuer,
                    year,
                    start,
                    now,
                )
            elif isinstance(decision, domain.Waitlisted):
                _waitlisted(changes, event, decision, year, now)
            else:
                _duplicate(changes, event, decision, year)

        await repository.insert_seats(conn, changes.seats)
        await repository.insert_waitlist(conn, changes.waitlist)
        await repository.insert_duplicate_attempts(conn, changes.duplicates)
        await repository.set_used(conn, year, {s.code: allocation.used[s.code] for s in sources})
        await outbox.add_events(conn, changes.events, settings.topic_prefix)
        log.info(
            "enrolment batch applied",
            programme_year=year,
            events=len(events),
            seats=len(changes.seats),
            waitlisted=len(changes.waitlist),
            duplicates=len(changes.duplicates),
        )

    return handle


def _seat(
    changes: _Changes,
    event: Envelope[IdentityVerified],
    seat: domain.Seat,
    source_name: str,
    number: str,
    issuer: str,
    year: int,
    start: date,
    now: datetime,
) -> None:
    p = event.payload
    changes.seats.append(
        repository.SeatRow(
            nomination_id=p.nomination_id,
            nik=p.nik,
            person_key=event.person_key,
            funding_source=seat.funding_source,
            programme_year=year,
            membership_number=number,
            membership_issuer=issuer,
            coverage_start=start,
            enrolled_at=now,
        )
    )
    confirmed = EnrolmentConfirmed(
        nomination_id=p.nomination_id,
        membership_number=number,
        funding_source=seat.funding_source,
        funding_source_name=source_name,
        programme_year=year,
        coverage_start=start,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    changes.events.append(_envelope(confirmed, event))


def _waitlisted(
    changes: _Changes, event: Envelope[IdentityVerified], place: domain.Waitlisted, year: int, now: datetime
) -> None:
    p = event.payload
    # The whole verified payload is kept: enrolling the person later needs exactly what enrolling now needs.
    changes.waitlist.append(
        repository.WaitlistRow(
            nomination_id=p.nomination_id,
            nik=p.nik,
            person_key=event.person_key,
            programme_year=year,
            payload=p.model_dump(mode="json"),
            causation_id=event.event_id,
            waitlisted_at=now,
        )
    )
    waitlisted = EnrolmentWaitlisted(
        nomination_id=p.nomination_id,
        programme_year=year,
        position=place.position,
        full_name=p.full_name,
        phone=p.phone,
        desa_code=p.desa_code,
        nominator=p.nominator,
    )
    changes.events.append(_envelope(waitlisted, event))


def _duplicate(changes: _Changes, event: Envelope[IdentityVerified], dup: domain.Duplicate, year: int) -> None:
    changes.duplicates.append(
        repository.DuplicateRow(
            event_id=event.event_id,
            nomination_id=dup.nomination_id,
            person_key=event.person_key,
            reason=dup.reason,
            held_by=dup.held_by,
            programme_year=year,
        )
    )
    log.warning(
        "duplicate enrolment attempt ignored",
        nomination_id=str(dup.nomination_id),
        person_key=event.person_key,
        reason=dup.reason,
        held_by=str(dup.held_by),
    )


def _membership_request(
    event: Envelope[IdentityVerified], seat: domain.Seat, year: int, start: date
) -> MembershipRequest:
    p = event.payload
    return MembershipRequest(
        nomination_id=p.nomination_id,
        nik=p.nik,
        full_name=p.full_name,
        birth_date=p.birth_date,
        sex=p.sex,
        phone=p.phone,
        desa_code=p.desa_code,
        occupation=p.occupation,
        funding_source=seat.funding_source,
        programme_year=year,
        coverage_start=start,
    )


def _envelope(payload: EnrolmentConfirmed | EnrolmentWaitlisted, cause: Envelope[IdentityVerified]) -> Envelope[Any]:
    return new_envelope(
        payload,
        producer=PRODUCER,
        person_key=cause.person_key,
        correlation_id=cause.payload.nomination_id,
        causation_id=cause.event_id,
    )


async def sync_funding_sources(pool: asyncpg.Pool, settings: EnrolmentSettings) -> None:
    """Bring ``funding_sources`` in line with the configuration for the programme year (run at startup).

    Missing sources are inserted, existing ones get the configured name, quota, priority and premium; a quota
    below the seats a source has already handed out is refused (``QuotaBelowSeatsTaken``) and nothing changes.
    Sources that are no longer configured keep their rows and seats but give no new seats.
    """
    year = settings.programme_year
    async with pool.acquire() as conn, conn.transaction():
        used = await repository.lock_year(conn, year)
        try:
            domain.check_quotas({s.code: s.quota for s in settings.funding_sources}, used, year)
        except domain.QuotaBelowSeatsTaken as exc:
            log.error("funding source configuration refused", error=str(exc))
            raise
        await repository.upsert_funding_sources(conn, year, settings.funding_sources)
    log.info(
        "funding sources synced",
        programme_year=year,
        sources=[s.code for s in settings.funding_sources],
        unconfigured=sorted(set(used) - {s.code for s in settings.funding_sources}),
    )
