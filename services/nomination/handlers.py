"""Nomination use cases: submitting a proposal, and recording what downstream services report about it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.nomination import domain, repository
from services.nomination.settings import NominationSettings
from shared import outbox
from shared.contracts import Envelope, NominationSubmitted, Payload, new_envelope
from shared.errors import PayungError
from shared.keys import person_key
from shared.logs import get_logger

log = get_logger(__name__)


class IdempotencyKeyReused(PayungError):
    """The Idempotency-Key was used before for a different request body."""


class UnknownNomination(PayungError):
    """A downstream event names a nomination this service never issued (dead-lettered)."""


@dataclass(frozen=True)
class Submitted:
    nomination_id: uuid.UUID
    created: bool  # False: the answer replays an earlier request with the same Idempotency-Key


@dataclass(frozen=True)
class AlreadyNominated:
    nomination_id: uuid.UUID


async def submit(
    pool: asyncpg.Pool,
    request: dict[str, Any],
    settings: NominationSettings,
    idempotency_key: str | None = None,
) -> Submitted | AlreadyNominated:
    """Store a validated nomination and queue ``NominationSubmitted`` in the same transaction.

    ``request`` is the validated request with the NIK compact and the phone numbers in E.164.
    """
    key = person_key(request["nik"], settings.person_key_secret)
    request_hash = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
    for _ in range(2):  # a concurrent twin wins the unique index once; the second pass finds its answer
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await _submit(conn, request, key, request_hash, settings, idempotency_key)
        except asyncpg.UniqueViolationError:
            continue
    raise RuntimeError("nomination kept colliding with a concurrent submission")


async def _submit(
    conn: asyncpg.Connection,
    request: dict[str, Any],
    key: str,
    request_hash: str,
    settings: NominationSettings,
    idempotency_key: str | None,
) -> Submitted | AlreadyNominated:
    if idempotency_key is not None:
        earlier = await repository.idempotent_answer(conn, idempotency_key)
        if earlier is not None:
            if earlier["request_hash"] != request_hash:
                raise IdempotencyKeyReused(idempotency_key)
            return Submitted(earlier["nomination_id"], created=False)
    live = await repository.live_nomination_of(conn, key)
    if live is not None:
        return AlreadyNominated(live)
    nomination_id = uuid.uuid4()
    payload = NominationSubmitted(nomination_id=nomination_id, programme_regency=settings.programme_regency, **request)
    await repository.insert(
        conn,
        {
            **request,
            "id": nomination_id,
            "person_key": key,
            "desa_code": request["address"]["desa_code"],
        },
    )
    envelope = new_envelope(payload, producer="nomination", person_key=key, correlation_id=nomination_id)
    await outbox.add_events(conn, [envelope], settings.topic_prefix)
    if idempotency_key is not None:
        await repository.remember_answer(conn, idempotency_key, request_hash, nomination_id)
    log.info("nomination submitted", nomination_id=str(nomination_id), person_key=key)
    return Submitted(nomination_id, created=True)


async def record_progress(conn: asyncpg.Connection, events: Sequence[Envelope[Payload]]) -> None:
    """Fold a batch of downstream events (verified, rejected, enrolled, waitlisted, notified) into nominations."""
    ids = [e.payload.nomination_id for e in events]  # type: ignore[attr-defined]
    progress = await repository.lock_progress(conn, ids)
    history = []
    for event in events:
        nomination_id = event.payload.nomination_id  # type: ignore[attr-defined]
        if nomination_id not in progress:
            raise UnknownNomination(f"{event.event_type} {event.event_id} names unknown nomination {nomination_id}")
        progress[nomination_id] = domain.apply(progress[nomination_id], event.payload)
        history.append(
            (
                nomination_id,
                event.event_id,
                domain.STAGE_OF_EVENT[event.event_type],
                _detail(event.payload),
                event.occurred_at,
            )
        )
    await repository.save_progress(conn, progress)
    await repository.add_history(conn, history)


def _detail(payload: Payload) -> dict[str, Any]:
    """What the history shows of an event: decisions and references, never personal data."""
    data = payload.model_dump(mode="json")
    keep = (
        "coverage_end",
        "layer",
        "reasons",
        "flags",
        "name_score",
        "funding_source",
        "membership_number",
        "programme_year",
        "position",
        "coverage_start",
        "purpose",
        "channel",
        "recipient_role",
        "reason",
    )
    return {k: data[k] for k in keep if k in data}
