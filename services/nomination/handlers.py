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
from shared import audit, outbox, signing
from shared.auth import Principal
from shared.contracts import Envelope, NominationSubmitted, Payload, SubmissionProof, new_envelope
from shared.db import Conn
from shared.errors import PayungError, PoisonMessage
from shared.keys import person_key
from shared.logs import get_logger

log = get_logger(__name__)

PRODUCER = "nomination"


class IdempotencyKeyReused(PayungError):
    """The Idempotency-Key was used before for a different request body."""


class InconsistentEvent(PoisonMessage):
    """A downstream event that contradicts this service's state: it names a nomination this service never issued,
    or moves one where it cannot go (enrolled after rejected). It changes nothing and is dead-lettered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "inconsistent")


@dataclass(frozen=True)
class Submitted:
    nomination_id: uuid.UUID
    created: bool  # False: the answer replays an earlier request with the same Idempotency-Key


@dataclass(frozen=True)
class AlreadyNominated:
    nomination_id: uuid.UUID
    visible: bool = True  # whether the caller may read that nomination (its id is shown only then)


async def submit(
    pool: asyncpg.Pool,
    request: dict[str, Any],
    settings: NominationSettings,
    idempotency_key: str | None = None,
    *,
    principal: Principal,
) -> Submitted | AlreadyNominated:
    """Store a validated nomination and queue ``NominationSubmitted`` in the same transaction, with an audit row
    naming ``principal``. The caller checked that the principal's area covers the address.

    ``request`` is the validated request with the NIK compact and the phone numbers in E.164.
    """
    key = person_key(request["nik"], settings.person_key_secret)
    request_hash = hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()
    for _ in range(2):  # a concurrent twin wins the unique index once; the second pass finds its answer
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await _submit(conn, request, key, request_hash, settings, idempotency_key, principal)
        except asyncpg.UniqueViolationError:
            continue
    raise RuntimeError("nomination kept colliding with a concurrent submission")


async def _submit(
    conn: Conn,
    request: dict[str, Any],
    key: str,
    request_hash: str,
    settings: NominationSettings,
    idempotency_key: str | None,
    principal: Principal,
) -> Submitted | AlreadyNominated:
    if idempotency_key is not None:
        earlier = await repository.idempotent_answer(conn, principal.name, idempotency_key)
        if earlier is not None:
            if earlier["request_hash"] != request_hash:
                raise IdempotencyKeyReused(idempotency_key)
            return Submitted(earlier["nomination_id"], created=False)
    live = await repository.live_nomination_of(conn, key)
    if live is not None:
        return AlreadyNominated(live, visible=live in await _visible(conn, principal, [live]))
    nomination_id = uuid.uuid4()
    payload = NominationSubmitted(
        nomination_id=nomination_id,
        programme_regency=settings.programme_regency,
        submission_proof=submission_proof(nomination_id, request["nik"], key),
        **request,
    )
    await repository.insert(
        conn,
        {
            **request,
            "id": nomination_id,
            "person_key": key,
            "desa_code": request["address"]["desa_code"],
        },
    )
    envelope = new_envelope(payload, producer=PRODUCER, person_key=key, correlation_id=nomination_id)
    await outbox.add_events(conn, [envelope], settings.topic_prefix)
    if idempotency_key is not None:
        await repository.remember_answer(conn, principal.name, idempotency_key, request_hash, nomination_id)
    await audit.record(conn, principal, "nomination.submitted", nomination_id, _audit_detail(request))
    log.info("nomination submitted", nomination_id=str(nomination_id), person_key=key)
    return Submitted(nomination_id, created=True)


@dataclass(frozen=True)
class KeyReused:
    """A batch item whose Idempotency-Key was used before for a different body."""


BatchOutcome = Submitted | AlreadyNominated | KeyReused


async def submit_batch(
    pool: asyncpg.Pool,
    items: Sequence[tuple[dict[str, Any], str | None]],
    settings: NominationSettings,
    *,
    principal: Principal,
) -> list[BatchOutcome]:
    """Store many validated nominations in ONE transaction with their ``NominationSubmitted`` outbox rows.

    ``items`` are (validated request, optional Idempotency-Key) pairs; the answer has one outcome per item, in
    order, with the same meaning as ``submit``'s. A second item for the same person in the batch points to the
    first. Bulk imports (a spreadsheet from a desa) and the benchmark use this: one round trip per table instead
    of one transaction per nomination.
    """
    keys = [person_key(request["nik"], settings.person_key_secret) for request, _ in items]
    hashes = [hashlib.sha256(orjson.dumps(r, option=orjson.OPT_SORT_KEYS)).hexdigest() for r, _ in items]
    for _ in range(3):  # the same Idempotency-Key in two concurrent requests: the second finds the first's answer
        try:
            async with pool.acquire() as conn, conn.transaction():
                return await _submit_batch(conn, items, keys, hashes, settings, principal)
        except asyncpg.UniqueViolationError:
            continue
    raise RuntimeError("batch kept colliding with concurrent submissions")


async def _submit_batch(
    conn: Conn,
    items: Sequence[tuple[dict[str, Any], str | None]],
    keys: list[str],
    hashes: list[str],
    settings: NominationSettings,
    principal: Principal,
) -> list[BatchOutcome]:
    answered = await repository.idempotent_answers(conn, principal.name, [k for _, k in items if k is not None])
    live = await repository.live_nominations_of(conn, keys)
    outcomes: list[BatchOutcome] = []
    rows: list[dict[str, Any]] = []
    for (request, idem), key, request_hash in zip(items, keys, hashes, strict=True):
        if idem is not None and idem in answered:
            earlier_hash, earlier_id = answered[idem]
            outcomes.append(KeyReused() if earlier_hash != request_hash else Submitted(earlier_id, created=False))
            continue
        if key in live:
            outcomes.append(AlreadyNominated(live[key]))
            continue
        nomination_id = uuid.uuid4()
        row = {**request, "id": nomination_id, "person_key": key, "desa_code": request["address"]["desa_code"]}
        rows.append({**row, "idempotency_key": idem, "request_hash": request_hash})
        live[key] = nomination_id
        if idem is not None:
            answered[idem] = (request_hash, nomination_id)
        outcomes.append(Submitted(nomination_id, created=True))
    if not rows:
        return await _hide_others(conn, principal, outcomes)
    # A concurrent submission may have nominated some of these people since ``live`` was read: the insert skips
    # them (after waiting for that transaction), and their items answer with the winner's nomination instead.
    inserted = await repository.insert_many(conn, rows)
    if len(inserted) < len(rows):
        lost = {row["id"]: row["person_key"] for row in rows if row["id"] not in inserted}
        winners = await repository.live_nominations_of(conn, list(lost.values()))
        outcomes = [
            AlreadyNominated(winners[lost[o.nomination_id]])
            if isinstance(o, Submitted | AlreadyNominated) and o.nomination_id in lost
            else o
            for o in outcomes
        ]
        rows = [row for row in rows if row["id"] in inserted]
    envelopes = [
        new_envelope(
            NominationSubmitted(
                **_request_of(row),
                programme_regency=settings.programme_regency,
                submission_proof=submission_proof(row["id"], row["nik"], row["person_key"]),
            ),
            producer=PRODUCER,
            person_key=row["person_key"],
            correlation_id=row["id"],
        )
        for row in rows
    ]
    await outbox.add_events(conn, envelopes, settings.topic_prefix)
    remembered = sorted((r["idempotency_key"], r["request_hash"], r["id"]) for r in rows if r["idempotency_key"])
    await repository.remember_answers(conn, principal.name, remembered)
    submitted = [(row["id"], _audit_detail(row, batch=True)) for row in rows]
    await audit.record_many(conn, principal, "nomination.submitted", submitted)
    log.info("nomination batch submitted", items=len(items), created=len(rows))
    return await _hide_others(conn, principal, outcomes)


async def _visible(conn: Conn, principal: Principal, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these nominations ``principal`` may read (its area covers their desa)."""
    if principal.area is None:
        return set(ids)
    return {i for i, desa in (await repository.desa_codes(conn, ids)).items() if principal.covers(desa)}


async def _hide_others(conn: Conn, principal: Principal, outcomes: list[BatchOutcome]) -> list[BatchOutcome]:
    """A conflict with a nomination the caller may not read keeps its id to itself."""
    others = [o.nomination_id for o in outcomes if isinstance(o, AlreadyNominated)]
    if not others:
        return outcomes
    visible = await _visible(conn, principal, others)
    return [
        AlreadyNominated(o.nomination_id, visible=o.nomination_id in visible) if isinstance(o, AlreadyNominated) else o
        for o in outcomes
    ]


def submission_proof(nomination_id: uuid.UUID, nik: str, key: str) -> SubmissionProof:
    """This service's attestation that it issued ``nomination_id`` for this person (checked by enrolment)."""
    kid, signature = signing.attest(PRODUCER, signing.submission_statement(nomination_id, nik, key))
    return SubmissionProof(kid=kid, signature=signature)


def _request_of(row: dict[str, Any]) -> dict[str, Any]:
    """The validated request fields of a stored row, and its id as the nomination id."""
    extra = ("id", "person_key", "desa_code", "idempotency_key", "request_hash")
    return {"nomination_id": row["id"], **{k: v for k, v in row.items() if k not in extra}}


def _audit_detail(request: dict[str, Any], batch: bool = False) -> dict[str, Any]:
    """What an audit row says about a submission: where and by which official channel, no personal data."""
    detail = {"desa_code": request["address"]["desa_code"], "nominator_type": request["nominator"]["type"]}
    return {**detail, "batch": True} if batch else detail


async def read(pool: asyncpg.Pool, nomination_id: uuid.UUID, principal: Principal) -> tuple[Any, list[Any]] | None:
    """A nomination and its history for ``principal``, audited in the same transaction as the read.

    None when it does not exist or lies outside the principal's area: an official of another area learns nothing,
    not even that it exists (the denied attempt is audited).
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.get(conn, nomination_id)
        if row is None:
            return None
        if not principal.covers(row["desa_code"]):
            await audit.record(conn, principal, "nomination.read_denied", nomination_id, {"reason": "out_of_area"})
            return None
        history = await repository.history(conn, nomination_id)
        await audit.record(conn, principal, "nomination.read", nomination_id)
        return row, history


async def record_denied(pool: asyncpg.Pool, principal: Principal, action: str, detail: dict[str, Any]) -> None:
    """Audit a refused request (e.g. a submission for another area) in a transaction of its own."""
    async with pool.acquire() as conn:
        await audit.record(conn, principal, action, None, detail)


async def record_progress(conn: Conn, events: Sequence[Envelope[Payload]]) -> None:
    """Fold a batch of downstream events (verified, rejected, enrolled, waitlisted, notified) into nominations."""
    ids = [e.payload.nomination_id for e in events]  # type: ignore[attr-defined]  # every progress payload names its nomination
    progress = await repository.lock_progress(conn, ids)
    history = []
    for event in events:
        nomination_id = event.payload.nomination_id  # type: ignore[attr-defined]  # as above
        if nomination_id not in progress:
            raise InconsistentEvent(f"{event.event_type} {event.event_id} names a nomination this service never issued")
        try:
            progress[nomination_id] = domain.apply(progress[nomination_id], event.payload)
        except domain.ImpossibleTransition as exc:
            raise InconsistentEvent(f"{event.event_type} {event.event_id}: {exc}") from None
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
