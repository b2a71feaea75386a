"""Enrolment handlers: load, ask the domain, save, write outbox rows. One transaction per Kafka batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.enrolment import domain, lifecycle, repository
from services.enrolment import repository_lifecycle as lrepo
from services.enrolment.bpjs import BpjsGateway
from services.enrolment.settings import EnrolmentSettings
from shared import logs, outbox, signing
from shared.consumer import Handler
from shared.contracts import EnrolmentWaitlisted, Envelope, IdentityVerified, RegistryPersonUpdated, new_envelope
from shared.db import Conn
from shared.errors import PoisonMessage, TransientError

log = logs.get_logger(__name__)
PRODUCER = "enrolment"


@dataclass
class _Changes:
    """What one batch writes: rows of each table and the events to publish, in event order."""

    seats: list[lifecycle.NewSeat] = field(default_factory=list)
    waitlist: list[repository.WaitlistRow] = field(default_factory=list)
    duplicates: list[repository.DuplicateRow] = field(default_factory=list)
    events: list[Envelope[Any]] = field(default_factory=list)


class UnprovenSubmission(PoisonMessage):
    """A verification for a nomination the nomination service never attested: it gets no seat (dead-lettered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "unproven_submission")


def check_submission(event: Envelope[IdentityVerified]) -> None:
    """The verification must carry the nomination service's proof that it issued this nomination for this NIK and
    person key. Checked from the event itself, so it holds whatever order the topics are read in."""
    p, proof = event.payload, event.payload.submission_proof
    if proof is None:
        raise UnprovenSubmission(f"{event.event_id}: a verification without the nomination's submission proof")
    statement = signing.submission_statement(p.nomination_id, p.nik, event.person_key)
    if not signing.verify_statement("nomination", proof.kid, proof.signature, statement):
        raise UnprovenSubmission(f"{event.event_id}: the submission proof does not verify with nomination's key")


def identity_verified(settings: EnrolmentSettings, gateway: BpjsGateway | None) -> Handler[IdentityVerified]:
    """The batch handler of ``identity.verified``: a seat, a waitlist place or nothing (duplicate) per event.

    ``gateway`` set (the local issuer): seats get their number and ``EnrolmentConfirmed`` in this transaction.
    None: seats are reserved as ``pending_bpjs`` and confirmed when BPJS answers (see ``lifecycle``).
    """
    year = settings.programme_year
    codes = [s.code for s in settings.funding_sources]
    names = {s.code: s.name for s in settings.funding_sources}
    seating = lifecycle.Seating(settings, gateway)

    async def handle(conn: Conn, events: Sequence[Envelope[IdentityVerified]]) -> None:
        for event in events:
            check_submission(event)
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
        changes = _Changes()
        confirmed_at: dict[uuid.UUID, int] = {}  # where each seat's confirmation goes in the event order
        for event, decision in zip(events, allocation.decisions, strict=True):
            if isinstance(decision, domain.Seat):
                p = event.payload
                changes.seats.append(
                    lifecycle.NewSeat(p.nomination_id, p.nik, event.person_key, decision.funding_source, year,
                                      start, p, event.event_id, promoted=False)
                )  # fmt: skip
                confirmed_at[p.nomination_id] = len(changes.events)
            elif isinstance(decision, domain.Waitlisted):
                _waitlisted(changes, event, decision, year, now)
            else:
                _duplicate(changes, event, decision, year)

        confirmations = await lifecycle.open_seats(conn, seating, changes.seats, names, now)
        for envelope in reversed(confirmations):
            changes.events.insert(confirmed_at[envelope.payload.nomination_id], envelope)
        await repository.insert_waitlist(conn, changes.waitlist)
        await repository.insert_duplicate_attempts(conn, changes.duplicates)
        await repository.set_used(conn, year, {s.code: allocation.used[s.code] for s in sources})
        await outbox.add_events(conn, changes.events, settings.topic_prefix)
        log.info(
            "enrolment batch applied",
            programme_year=year,
            events=len(events),
            seats=len(changes.seats),
            pending_bpjs=len(changes.seats) - len(confirmations),
            waitlisted=len(changes.waitlist),
            duplicates=len(changes.duplicates),
        )

    return handle


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


def _envelope(payload: EnrolmentWaitlisted, cause: Envelope[IdentityVerified]) -> Envelope[Any]:
    return new_envelope(
        payload,
        producer=PRODUCER,
        person_key=cause.person_key,
        correlation_id=cause.payload.nomination_id,
        causation_id=cause.event_id,
    )


def registry_person_updated(settings: EnrolmentSettings, gateway: BpjsGateway | None) -> Handler[RegistryPersonUpdated]:
    """The batch handler of ``registry.person_updated``: life events reported by a civil-registry refresh.

    deceased: coverage ends on the date of death; moved_out: at the end of that month (a person waiting is taken
    off the waitlist instead). Either frees the seat for the next person waiting, in the same transaction.
    inactive: recorded for Disnaker to look at, coverage goes on (see docs/enrolment.md).
    """
    seating = lifecycle.Seating(settings, gateway)

    async def handle(conn: Conn, events: Sequence[Envelope[RegistryPersonUpdated]]) -> None:
        for event in events:
            p = event.payload
            recorded_by = f"registry:snapshot-{p.snapshot_id}"
            if p.change == "inactive":
                await _flag_inactive(conn, event, recorded_by)
                continue
            request = lifecycle.EndRequest(p.nomination_id, p.change, p.effective_date, recorded_by, cause=event)
            result = await lifecycle.end_enrolment(conn, seating, request)
            log.info("registry life event applied", nomination_id=str(p.nomination_id), change=p.change,
                     outcome=result.outcome)  # fmt: skip

    return handle


async def _flag_inactive(conn: Conn, event: Envelope[RegistryPersonUpdated], recorded_by: str) -> None:
    p = event.payload
    seat = await lrepo.live_seat(conn, p.nomination_id, lock=False)
    year = seat["programme_year"] if seat is not None else 0
    await lrepo.insert_changes(
        conn,
        [lrepo.ChangeRow(p.nomination_id, year, "flagged", "inactive", p.effective_date,
                         "NIK inactive in the civil registry: Disnaker to check", recorded_by, event.event_id)],
    )  # fmt: skip
    log.warning("registry reports an inactive NIK", nomination_id=str(p.nomination_id), has_seat=seat is not None)


async def sync_funding_sources(pool: asyncpg.Pool, settings: EnrolmentSettings) -> None:
    """Bring ``funding_sources`` in line with the configuration for the programme year (run at startup).

    Missing sources are inserted, existing ones get the configured name, quota, priority and premium; a quota
    below the seats a source has already handed out is refused (``QuotaBelowSeatsTaken``) and nothing changes.
    Sources that are no longer configured keep their rows and seats but give no new seats. Free seats (a raised
    quota) go to the people waiting in the year, in arrival order, in the same transaction.
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
        # A raised quota (or a new source) goes to the people already waiting, before any new arrival.
        sources, names = await lrepo.lock_year(conn, year)
        events, promoted = await lifecycle.promote(
            conn, lifecycle.seating_for(settings), year, sources, names, None, datetime.now(UTC)
        )
        await outbox.add_events(conn, events, settings.topic_prefix)
    log.info(
        "funding sources synced",
        programme_year=year,
        sources=[s.code for s in settings.funding_sources],
        unconfigured=sorted(set(used) - {s.code for s in settings.funding_sources}),
        promoted=promoted,
    )
