"""Deciding submitted nominations layer by layer, and again those that waited for the registry.

One batch is one transaction (opened by ``shared.consumer``, or by the retry job through ``messaging.run``): load
what the batch needs in a few queries (earlier decisions, people already verified or in review, the registry's
answers, the wage-earner roster, fuzzy-duplicate candidates by birth date), ask the domain about each event in
order, then save every decision, review case and pending look-up, and return the events to publish.

The registry is asked BEFORE the transaction (``prepare_submitted``, the consumer's prepare hook; the retry job
asks first too): inside it, ``registry.answer`` reads what was fetched and the answer cache only, so no
transaction waits on a remote service. A nomination whose NIK has no answer is recorded as ``pending`` (no event)
and its envelope parked in ``pending_lookups``; the batch commits, so one dead registry never holds up the topic or
the other nominations. ``retry_due`` (the retry job) decides the parked ones again when due, with a growing delay
between attempts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from services.verification import domain
from services.verification.adapters.registry import RegistryAnswer, record_json
from services.verification.commands import RetryPending
from services.verification.domain import duplicates
from services.verification.errors import RegistryUnavailable
from services.verification.repository import pending as pending_repo
from services.verification.repository import reviews as reviews_repo
from services.verification.repository import verifications as repository
from services.verification.repository.reviews import ReviewRow
from services.verification.repository.verifications import VerificationRow
from shared import messaging
from shared.contracts import EnrolmentEnded, Envelope, NominationSubmitted, Payload, decode, encode, new_envelope
from shared.db import Conn
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps

log = get_logger(__name__)

PRODUCER = "verification"


@dataclass
class _Batch:
    """What deciding one batch writes, gathered before the writes."""

    rows: list[VerificationRow] = field(default_factory=list)
    out: list[Envelope[Payload]] = field(default_factory=list)
    reviews: list[ReviewRow] = field(default_factory=list)
    pending: list[tuple[uuid.UUID, object, str]] = field(default_factory=list)


async def prepare_submitted(deps: Deps, events: Sequence[Envelope[NominationSubmitted]]) -> None:
    """Before the batch's transaction: ask the registry about the batch's NIKs (its answers are read inside)."""
    await deps.registry.prefetch([e.payload.nik for e in events])


async def nominations_submitted(
    deps: Deps, conn: Conn, submitted: Sequence[Envelope[NominationSubmitted]]
) -> list[Envelope[Any]]:
    """Decide each new nomination once; a person is verified at most once, also within one batch."""
    done = await repository.decided(conn, [e.payload.nomination_id for e in submitted])
    fresh = []
    for event in submitted:
        if event.payload.nomination_id in done:
            # Re-sent under a new event id: the first decision stands and was announced already.
            log.info("nomination already decided", nomination_id=str(event.payload.nomination_id))
            continue
        done.add(event.payload.nomination_id)
        fresh.append(event)
    answer = await deps.registry.answer(conn, [e.payload.nik for e in fresh])
    batch = await _decide(deps, conn, fresh, answer)
    await pending_repo.add_pending(conn, batch.pending, deps.settings.pending_retry_base_s)
    _log(batch, already_decided=len(submitted) - len(fresh))
    return batch.out


async def due_niks(deps: Deps, conn: Conn, cmd: RetryPending) -> Handled[list[str]]:
    return Handled(await pending_repo.due_niks(conn, cmd.limit))


async def retry_pending(deps: Deps, conn: Conn, cmd: RetryPending) -> Handled[int]:
    """Decide the due pending look-ups again from the registry's answers at hand; answers how many were due."""
    due = await pending_repo.due_pending(conn, cmd.limit)
    if not due:
        return Handled(0)
    events = [decode(orjson.dumps(r["envelope"]), NominationSubmitted) for r in due]
    attempts = {r["nomination_id"]: r["attempts"] for r in due}
    niks = [e.payload.nik for e in events]
    try:
        answer = await deps.registry.answer(conn, niks)
    except RegistryUnavailable as exc:
        answer = RegistryAnswer({}, None, frozenset(niks))
        log.warning("registry still unavailable", error=str(exc))
    batch = await _decide(deps, conn, events, answer)
    still = {item[0] for item in batch.pending}
    await pending_repo.reschedule_pending(
        conn, [(nid, _delay(deps, attempts[nid]), str(err)) for nid, _env, err in batch.pending]
    )
    await pending_repo.delete_pending(conn, [nid for nid in attempts if nid not in still])
    _log(batch, retried=len(due))
    return Handled(len(due), batch.out)


async def retry_due(deps: Deps, limit: int) -> int:
    """One round of the retry job: ask the registry about the due NIKs, then decide them in one transaction."""
    niks = await messaging.run(deps, due_niks, RetryPending(limit=limit))
    if not niks:
        return 0
    await deps.registry.prefetch(niks)
    return await messaging.run(deps, retry_pending, RetryPending(limit=limit))


async def retry_round(deps: Deps) -> Next:
    """The retry job's step: again at once while full batches are due."""
    limit = deps.settings.consumer_max_records
    return Next.NOW if await retry_due(deps, limit) >= limit else Next.WAIT


def _delay(deps: Deps, attempts: int) -> float:
    settings = deps.settings
    return float(min(settings.pending_retry_max_s, settings.pending_retry_base_s * 2 ** min(attempts + 1, 20)))


async def _decide(
    deps: Deps, conn: Conn, events: Sequence[Envelope[NominationSubmitted]], answer: RegistryAnswer
) -> _Batch:
    ids = [e.payload.nomination_id for e in events]
    active = await repository.verified_people(conn, [e.person_key for e in events], besides=ids)
    wage_earners = await repository.wage_earners(conn, [e.payload.nik for e in events])
    dates = [r.birth_date for r in answer.records.values()]
    # Candidates by birth date: each nomination is compared with the people born on its day only. A flat list
    # made every nomination walk every candidate of the batch, a cost growing with the verified population.
    known: dict[date, list[duplicates.KnownPerson]] = {}
    for r in await repository.known_people(conn, dates):
        known.setdefault(r["birth_date"], []).append(duplicates.KnownPerson(**dict(r)))

    batch = _Batch()
    for event in events:
        nomination = event.payload
        if nomination.nik in answer.unavailable:
            batch.rows.append(_pending_row(event))
            batch.pending.append((nomination.nomination_id, orjson.loads(encode(event)), "registry unavailable"))
            active.add(event.person_key)
            continue
        record = answer.records.get(nomination.nik)
        evidence: list[duplicates.DuplicateEvidence] = []
        if record is not None:
            evidence = duplicates.likely_same_person(
                nomination.nik,
                record.full_name,
                record.birth_date,
                record.no_kk,
                nomination.address.desa_code,
                known.get(record.birth_date, ()),
                deps.policy.duplicate_name_threshold,
            )
        decision = domain.decide(
            nomination,
            on=domain.decision_date(event.occurred_at),
            record=record,
            already_verified=event.person_key in active,
            regions=deps.regions,
            policy=deps.policy,
            duplicates=evidence,
            active_wage_earner=nomination.nik in wage_earners,
        )
        if decision.outcome != "rejected":
            active.add(event.person_key)
        if decision.outcome == "verified" and record is not None:
            known.setdefault(record.birth_date, []).append(_known(nomination, decision))
        envelope: Envelope[Payload] = new_envelope(
            domain.decision_event(nomination, decision),
            producer=PRODUCER,
            person_key=event.person_key,
            correlation_id=nomination.nomination_id,
            causation_id=event.event_id,
        )
        batch.rows.append(_row(event, decision, envelope.event_id, answer.snapshot_id))
        batch.out.append(envelope)
        if decision.outcome == "in_review":
            batch.reviews.append(_review(event, decision))
    await repository.insert_verifications(conn, batch.rows)
    await reviews_repo.insert_reviews(conn, batch.reviews)
    return batch


def _log(batch: _Batch, **extra: int) -> None:
    outcomes = [r.outcome for r in batch.rows]
    # One line per batch, not per event: each decision is in the verifications table, with its reasons.
    log.info(
        "batch decided",
        verified=outcomes.count("verified"),
        rejected=outcomes.count("rejected"),
        in_review=outcomes.count("in_review"),
        pending=outcomes.count("pending"),
        **extra,
    )


def _known(nomination: NominationSubmitted, decision: domain.Decision) -> duplicates.KnownPerson:
    record = decision.record
    assert record is not None
    return duplicates.KnownPerson(
        nomination.nomination_id,
        nomination.nik,
        record.full_name,
        record.birth_date,
        record.no_kk,
        nomination.address.desa_code,
    )


def _pending_row(event: Envelope[NominationSubmitted]) -> VerificationRow:
    check = {"layer": "civil_registry", "check": "registry_found", "status": "skipped", "note": "registry unavailable"}
    return VerificationRow(
        nomination_id=event.payload.nomination_id,
        person_key=event.person_key,
        outcome="pending",
        reasons=[],
        flags=[],
        checks=[check],
        name_score=None,
        registry_snapshot_id=None,
        event_id=None,
        source_event_id=event.event_id,
        nik=event.payload.nik,
        desa_code=event.payload.address.desa_code,
        programme_regency=event.payload.programme_regency,
    )


def _row(
    event: Envelope[NominationSubmitted], decision: domain.Decision, event_id: uuid.UUID, snapshot_id: int | None
) -> VerificationRow:
    record = decision.record
    return VerificationRow(
        nomination_id=event.payload.nomination_id,
        person_key=event.person_key,
        outcome=decision.outcome,
        reasons=[r.model_dump() for r in decision.reasons],
        flags=[f.model_dump() for f in decision.flags],
        checks=[c.record() for c in decision.checks],
        name_score=decision.name_score,
        registry_snapshot_id=snapshot_id,
        event_id=event_id,
        source_event_id=event.event_id,
        nik=event.payload.nik,
        full_name=record.full_name if record else None,
        name_key=duplicates.name_key(record.full_name) if record else None,
        birth_date=record.birth_date if record else None,
        no_kk=record.no_kk if record else None,
        desa_code=event.payload.address.desa_code,
        programme_regency=event.payload.programme_regency,
        # kept for a rejection only: an upheld objection (sanggahan) re-runs it (handlers/objections.py)
        submitted=orjson.loads(encode(event)) if decision.outcome == "rejected" else None,
    )


def _review(event: Envelope[NominationSubmitted], decision: domain.Decision) -> ReviewRow:
    assert decision.record is not None  # only a registry match can be a probable duplicate
    return ReviewRow(
        nomination_id=event.payload.nomination_id,
        person_key=event.person_key,
        layer=decision.review_layer,
        desa_code=event.payload.address.desa_code,
        reasons=[r.model_dump() for r in decision.review_reasons],
        evidence=[e.as_json() for e in decision.duplicates],
        envelope=orjson.loads(encode(event)),
        record=record_json(decision.record),
        name_score=decision.name_score,
        flags=[f.model_dump() for f in decision.flags],
    )


async def enrolment_ended(deps: Deps, conn: Conn, events: Sequence[Envelope[EnrolmentEnded]]) -> list[Envelope[Any]]:
    """A person's cover ended: their verification no longer makes a new nomination of them a duplicate."""
    await repository.mark_ended(conn, [e.payload.nomination_id for e in events])
    return []
