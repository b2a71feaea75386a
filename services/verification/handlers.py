"""Verification use case: decide a batch of submitted nominations and announce each decision.

One batch is one transaction (opened by ``shared.consumer``): load what the batch needs in a few queries (earlier
decisions, people already verified, registry records), ask the domain about each event in order, then save every
decision and its outbox row together.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.verification import domain, repository
from services.verification.registry import CivilRegistry
from services.verification.repository import VerificationRow
from shared import outbox
from shared.contracts import Envelope, NominationSubmitted, Payload, new_envelope
from shared.logs import get_logger
from shared.regions import RegionIndex

log = get_logger(__name__)

PRODUCER = "verification"


@dataclass(frozen=True)
class Verifier:
    """What deciding needs besides the database: the registry, the region list, the programme's policy."""

    registry: CivilRegistry
    regions: RegionIndex
    policy: domain.Policy
    topic_prefix: str = ""

    async def nominations_submitted(
        self, conn: asyncpg.Connection, events: Sequence[Envelope[NominationSubmitted]]
    ) -> None:
        """Decide each new nomination once; a person is verified at most once, also within one batch."""
        ids = [e.payload.nomination_id for e in events]
        done = await repository.decided(conn, ids)
        verified = await repository.verified_people(conn, [e.person_key for e in events])
        answer = await self.registry.lookup([e.payload.nik for e in events])

        rows: list[VerificationRow] = []
        out: list[Envelope[Payload]] = []
        for event in events:
            nomination = event.payload
            if nomination.nomination_id in done:
                # Re-sent under a new event id: the first decision stands and was announced already.
                log.info("nomination already decided", nomination_id=str(nomination.nomination_id))
                continue
            done.add(nomination.nomination_id)
            decision = domain.decide(
                nomination,
                on=domain.decision_date(event.occurred_at),
                record=answer.records.get(nomination.nik),
                already_verified=event.person_key in verified,
                regions=self.regions,
                policy=self.policy,
            )
            if decision.outcome == "verified":
                verified.add(event.person_key)
            envelope = new_envelope(
                domain.decision_event(nomination, decision),
                producer=PRODUCER,
                person_key=event.person_key,
                correlation_id=nomination.nomination_id,
                causation_id=event.event_id,
            )
            rows.append(_row(event, decision, envelope.event_id, answer.snapshot_id))
            out.append(envelope)
        await repository.insert_verifications(conn, rows)
        await outbox.add_events(conn, out, self.topic_prefix)
        verified_now = sum(r.outcome == "verified" for r in rows)
        # One line per batch, not per event: each decision is in the verifications table, with its reasons.
        log.info(
            "batch decided",
            verified=verified_now,
            rejected=len(rows) - verified_now,
            already_decided=len(events) - len(rows),
            snapshot_id=answer.snapshot_id,
        )


def _row(
    event: Envelope[NominationSubmitted], decision: domain.Decision, event_id: uuid.UUID, snapshot_id: int | None
) -> VerificationRow:
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
    )
