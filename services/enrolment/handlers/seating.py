"""Seating the verified people of a ``identity.verified`` batch: a seat, a waitlist place or nothing (duplicate).

One transaction per Kafka batch, the funding sources of the year locked first: everything read after the lock
reflects every batch committed before, so the quotas hold exactly with any number of consumers and replicas.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.enrolment import domain
from services.enrolment.errors import FundingSourcesMissing, UnprovenSubmission
from services.enrolment.handlers import events
from services.enrolment.handlers.seats import NewSeat, open_seats
from services.enrolment.repository import seats as srepo
from shared import logs, signing
from shared.contracts import Envelope, IdentityVerified
from shared.db import Conn

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)


@dataclass
class _Changes:
    """What one batch writes: rows of each table and the events to publish, in event order."""

    seats: list[NewSeat] = field(default_factory=list)
    waitlist: list[srepo.WaitlistRow] = field(default_factory=list)
    duplicates: list[srepo.DuplicateRow] = field(default_factory=list)
    events: list[Envelope[Any]] = field(default_factory=list)


def check_submission(event: Envelope[IdentityVerified]) -> None:
    """The verification must carry the nomination service's proof that it issued this nomination for this NIK and
    person key. Checked from the event itself, so it holds whatever order the topics are read in."""
    p, proof = event.payload, event.payload.submission_proof
    if proof is None:
        raise UnprovenSubmission(f"{event.event_id}: a verification without the nomination's submission proof")
    statement = signing.submission_statement(p.nomination_id, p.nik, event.person_key)
    if not signing.verify_statement("nomination", proof.kid, proof.signature, statement):
        raise UnprovenSubmission(f"{event.event_id}: the submission proof does not verify with nomination's key")


async def seat_verified(deps: Deps, conn: Conn, batch: Sequence[Envelope[IdentityVerified]]) -> list[Envelope[Any]]:
    """The handler of ``identity.verified``. With the local issuer seats get their number and
    ``EnrolmentConfirmed`` in this transaction; otherwise they are reserved as ``pending_bpjs`` and confirmed when
    BPJS answers (``answers.apply_answers``)."""
    settings = deps.settings
    year = settings.programme_year
    codes = [s.code for s in settings.funding_sources]
    names = {s.code: s.name for s in settings.funding_sources}
    for event in batch:
        check_submission(event)
    # The lock comes first: everything read after it reflects every batch committed before ours.
    sources = await srepo.lock_funding_sources(conn, year, codes)
    if not sources:
        # Startup syncs the configuration, so this means a replica runs with another year or other codes.
        raise FundingSourcesMissing(f"no funding sources {codes} for programme year {year} in the database")
    requests = [domain.Request(e.payload.nomination_id, e.payload.nik) for e in batch]
    held = await srepo.holdings(conn, [r.nomination_id for r in requests], [r.nik for r in requests])
    waiting = await srepo.count_waiting(conn, year)
    allocation = domain.allocate(sources, requests, held, waiting)

    now = datetime.now(UTC)
    start = domain.coverage_start(now)
    changes = _Changes()
    confirmed_at: dict[uuid.UUID, int] = {}  # where each seat's confirmation goes in the event order
    for event, decision in zip(batch, allocation.decisions, strict=True):
        if isinstance(decision, domain.Seat):
            p = event.payload
            changes.seats.append(
                NewSeat(p.nomination_id, p.nik, event.person_key, decision.funding_source, year, start, p,
                        event.event_id, promoted=False)
            )  # fmt: skip
            confirmed_at[p.nomination_id] = len(changes.events)
        elif isinstance(decision, domain.Waitlisted):
            _waitlisted(changes, event, decision, year, now)
        else:
            _duplicate(changes, event, decision, year)

    confirmations = await open_seats(deps, conn, changes.seats, names, now)
    for envelope in reversed(confirmations):
        changes.events.insert(confirmed_at[envelope.payload.nomination_id], envelope)
    await srepo.insert_waitlist(conn, changes.waitlist)
    await srepo.insert_duplicate_attempts(conn, changes.duplicates)
    await srepo.set_used(conn, year, {s.code: allocation.used[s.code] for s in sources})
    log.info(
        "enrolment batch applied",
        programme_year=year,
        events=len(batch),
        seats=len(changes.seats),
        pending_bpjs=len(changes.seats) - len(confirmations),
        waitlisted=len(changes.waitlist),
        duplicates=len(changes.duplicates),
    )
    return changes.events


def _waitlisted(
    changes: _Changes, event: Envelope[IdentityVerified], place: domain.Waitlisted, year: int, now: datetime
) -> None:
    p = event.payload
    # The whole verified payload is kept: enrolling the person later needs exactly what enrolling now needs.
    changes.waitlist.append(
        srepo.WaitlistRow(
            nomination_id=p.nomination_id,
            nik=p.nik,
            person_key=event.person_key,
            programme_year=year,
            payload=p.model_dump(mode="json"),
            causation_id=event.event_id,
            waitlisted_at=now,
        )
    )
    changes.events.append(events.waitlisted(event, year, place.position))


def _duplicate(changes: _Changes, event: Envelope[IdentityVerified], dup: domain.Duplicate, year: int) -> None:
    changes.duplicates.append(
        srepo.DuplicateRow(
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
