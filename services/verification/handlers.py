"""Verification use cases: decide a batch of submitted nominations layer by layer, and retry those that waited.

One batch is one transaction (opened by ``shared.consumer``, or by the retry task): load what the batch needs in a
few queries (earlier decisions, people already verified or in review, registry answers, the wage-earner roster,
fuzzy-duplicate candidates by birth date), ask the domain about each event in order, then save every decision,
review case, pending look-up and outbox row together.

Registry outages: a nomination whose NIK the registry could not answer is recorded as ``pending`` (no event) and
its envelope parked in ``pending_lookups``; the batch commits, so one dead registry never holds up the topic or
the other nominations. ``retry_pending`` (a background task of the service) decides the parked ones again when due,
with a growing delay between attempts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import orjson

from services.verification import domain, duplicates, repository, reviews_repository
from services.verification.registry import CivilRegistry, RegistryAnswer, RegistryUnavailable, record_json
from services.verification.repository import VerificationRow
from services.verification.reviews_repository import ReviewRow
from shared import outbox
from shared.contracts import EnrolmentEnded, Envelope, NominationSubmitted, Payload, decode, encode, new_envelope
from shared.db import Conn
from shared.logs import get_logger
from shared.regions import RegionIndex

log = get_logger(__name__)

PRODUCER = "verification"


@dataclass
class _Batch:
    """What deciding one batch writes, gathered before the writes."""

    rows: list[VerificationRow] = field(default_factory=list)
    out: list[Envelope[Payload]] = field(default_factory=list)
    reviews: list[ReviewRow] = field(default_factory=list)
    pending: list[tuple[uuid.UUID, object, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Verifier:
    """What deciding needs besides the database: the registry, the region list, the programme's policy."""

    registry: CivilRegistry
    regions: RegionIndex
    policy: domain.Policy
    topic_prefix: str = ""
    retry_base_s: float = 30.0  # first delay of a pending look-up; doubles per attempt
    retry_max_s: float = 3600.0

    async def nominations_submitted(self, conn: Conn, events: Sequence[Envelope[NominationSubmitted]]) -> None:
        """Decide each new nomination once; a person is verified at most once, also within one batch."""
        done = await repository.decided(conn, [e.payload.nomination_id for e in events])
        fresh = []
        for event in events:
            if event.payload.nomination_id in done:
                # Re-sent under a new event id: the first decision stands and was announced already.
                log.info("nomination already decided", nomination_id=str(event.payload.nomination_id))
                continue
            done.add(event.payload.nomination_id)
            fresh.append(event)
        batch = await self._decide(conn, fresh, await self.registry.lookup([e.payload.nik for e in fresh]))
        await repository.add_pending(conn, batch.pending, self.retry_base_s)
        self._log(batch, already_decided=len(events) - len(fresh))

    async def retry_pending(self, conn: Conn, limit: int) -> int:
        """Decide the due pending look-ups again (inside the caller's transaction); returns how many were due."""
        due = await repository.due_pending(conn, limit)
        if not due:
            return 0
        events = [decode(orjson.dumps(r["envelope"]), NominationSubmitted) for r in due]
        attempts = {r["nomination_id"]: r["attempts"] for r in due}
        try:
            answer = await self.registry.lookup([e.payload.nik for e in events])
        except RegistryUnavailable as exc:
            answer = RegistryAnswer({}, None, frozenset(e.payload.nik for e in events))
            log.warning("registry still unavailable", error=str(exc))
        batch = await self._decide(conn, events, answer)
        still = {item[0] for item in batch.pending}
        await repository.reschedule_pending(
            conn, [(nid, self._delay(attempts[nid]), str(err)) for nid, _env, err in batch.pending]
        )
        await repository.delete_pending(conn, [nid for nid in attempts if nid not in still])
        self._log(batch, retried=len(due))
        return len(due)

    def _delay(self, attempts: int) -> float:
        return float(min(self.retry_max_s, self.retry_base_s * 2 ** min(attempts + 1, 20)))

    async def _decide(
        self, conn: Conn, events: Sequence[Envelope[NominationSubmitted]], answer: RegistryAnswer
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
                    self.policy.duplicate_name_threshold,
                )
            decision = domain.decide(
                nomination,
                on=domain.decision_date(event.occurred_at),
                record=record,
                already_verified=event.person_key in active,
                regions=self.regions,
                policy=self.policy,
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
        await reviews_repository.insert_reviews(conn, batch.reviews)
        await outbox.add_events(conn, batch.out, self.topic_prefix)
        return batch

    @staticmethod
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


async def enrolment_ended(conn: Conn, events: Sequence[Envelope[EnrolmentEnded]]) -> None:
    """A person's cover ended: their verification no longer makes a new nomination of them a duplicate."""
    await repository.mark_ended(conn, [e.payload.nomination_id for e in events])
