"""Submitting nominations: one (``submit``) or many in one transaction (``submit_batch``), with the idempotency
and duplicate checks, the area check (handlers/access.py), the audit row, and ``NominationSubmitted`` returned."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from services.nomination.commands import SubmitBatch, SubmitNomination
from services.nomination.errors import IdempotencyKeyReused
from services.nomination.handlers import access
from services.nomination.handlers.access import ClaimRefused, OutOfArea
from services.nomination.repository import nominations
from shared import audit, signing
from shared.auth import Principal
from shared.contracts import Envelope, NominationSubmitted, SubmissionProof, new_envelope
from shared.db import Conn
from shared.keys import person_key
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps

log = get_logger(__name__)

PRODUCER = "nomination"


@dataclass(frozen=True)
class Submitted:
    nomination_id: uuid.UUID
    created: bool  # False: the answer replays an earlier request with the same Idempotency-Key


@dataclass(frozen=True)
class AlreadyNominated:
    nomination_id: uuid.UUID
    visible: bool = True  # whether the caller may read that nomination (its id is shown only then)


@dataclass(frozen=True)
class KeyReused:
    """A batch item whose Idempotency-Key was used before for a different body."""


Outcome = Submitted | AlreadyNominated | OutOfArea | ClaimRefused
BatchOutcome = Submitted | AlreadyNominated | KeyReused | OutOfArea | ClaimRefused


def _hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def submit(deps: Deps, conn: Conn, cmd: SubmitNomination) -> Handled[Outcome]:
    """Store a validated nomination with an audit row naming the caller, and give ``NominationSubmitted`` back.

    A person living outside the caller's area, or a nominator the caller may not claim, is refused (and the refusal
    audited). Run it with ``retry_on=(asyncpg.UniqueViolationError,)``: a concurrent twin wins the unique index
    once, and the second pass finds its answer. ``IdempotencyKeyReused`` for a key used with another body.
    """
    caller, body = cmd.caller, cmd.request
    refusal = access.submission_refusal(caller, body.address.desa_code, body.nominator.type, body.nominator.region_code)
    if refusal is not None:
        detail = (
            {"desa_code": body.address.desa_code} if isinstance(refusal, OutOfArea) else {"reason": "nominator_claim"}
        )
        await audit.record(conn, caller, "nomination.submit_denied", None, detail)
        return Handled(refusal)
    request = body.model_dump(mode="python")  # the NIK compact, the phone numbers in E.164
    key = person_key(request["nik"], deps.settings.person_key_secret)
    request_hash = _hash(request)
    idempotency_key = cmd.idempotency_key
    if idempotency_key is not None:
        earlier = await nominations.idempotent_answer(conn, caller.name, idempotency_key)
        if earlier is not None:
            if earlier["request_hash"] != request_hash:
                raise IdempotencyKeyReused(idempotency_key)
            return Handled(Submitted(earlier["nomination_id"], created=False))
    live = await nominations.live_nomination_of(conn, key)
    if live is not None:
        return Handled(AlreadyNominated(live, visible=live in await access.visible(conn, caller, [live])))
    nomination_id = uuid.uuid4()
    payload = NominationSubmitted(
        nomination_id=nomination_id,
        programme_regency=deps.settings.programme_regency,
        submission_proof=submission_proof(nomination_id, request["nik"], key),
        **request,
    )
    row = {**request, "id": nomination_id, "person_key": key, "desa_code": request["address"]["desa_code"]}
    await nominations.insert(conn, row)
    envelope = new_envelope(payload, producer=PRODUCER, person_key=key, correlation_id=nomination_id)
    if idempotency_key is not None:
        await nominations.remember_answer(conn, caller.name, idempotency_key, request_hash, nomination_id)
    await audit.record(conn, caller, "nomination.submitted", nomination_id, _audit_detail(request))
    log.info("nomination submitted", nomination_id=str(nomination_id), person_key=key)
    return Handled(Submitted(nomination_id, created=True), [envelope])


async def submit_batch(deps: Deps, conn: Conn, cmd: SubmitBatch) -> Handled[list[BatchOutcome]]:
    """Store many validated nominations in ONE transaction and give their ``NominationSubmitted`` back.

    One outcome per item, in order, with the same meaning as ``submit``'s (an item outside the caller's area or
    naming a nominator it may not claim is refused, as a result of its own). A second item for the same person in
    the batch points to the first. Bulk imports (a spreadsheet from a desa) and the benchmark use this: one round
    trip per table instead of one transaction per nomination. Run with ``retry_on=(UniqueViolationError,)``: the
    same Idempotency-Key in two concurrent requests, the second finds the first's answer.
    """
    caller = cmd.caller
    outcomes: list[BatchOutcome | None] = []
    items: list[tuple[dict[str, Any], str | None]] = []
    for entry in cmd.items:
        body = entry.request
        refusal = access.submission_refusal(
            caller, body.address.desa_code, body.nominator.type, body.nominator.region_code
        )
        outcomes.append(refusal)
        if refusal is None:
            items.append((body.model_dump(mode="python"), entry.idempotency_key))
    submitted, events = await _submit_batch(deps, conn, items, caller)
    taken = iter(submitted)
    return Handled([o if o is not None else next(taken) for o in outcomes], events)


async def _submit_batch(
    deps: Deps, conn: Conn, items: Sequence[tuple[dict[str, Any], str | None]], caller: Principal
) -> tuple[list[BatchOutcome], list[Envelope[Any]]]:
    settings = deps.settings
    keys = [person_key(request["nik"], settings.person_key_secret) for request, _ in items]
    hashes = [_hash(r) for r, _ in items]
    answered = await nominations.idempotent_answers(conn, caller.name, [k for _, k in items if k is not None])
    live = await nominations.live_nominations_of(conn, keys)
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
        return await _hide_others(conn, caller, outcomes), []
    # A concurrent submission may have nominated some of these people since ``live`` was read: the insert skips
    # them (after waiting for that transaction), and their items answer with the winner's nomination instead.
    inserted = await nominations.insert_many(conn, rows)
    if len(inserted) < len(rows):
        lost = {row["id"]: row["person_key"] for row in rows if row["id"] not in inserted}
        winners = await nominations.live_nominations_of(conn, list(lost.values()))
        outcomes = [
            AlreadyNominated(winners[lost[o.nomination_id]])
            if isinstance(o, Submitted | AlreadyNominated) and o.nomination_id in lost
            else o
            for o in outcomes
        ]
        rows = [row for row in rows if row["id"] in inserted]
    envelopes: list[Envelope[Any]] = [
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
    remembered = sorted((r["idempotency_key"], r["request_hash"], r["id"]) for r in rows if r["idempotency_key"])
    await nominations.remember_answers(conn, caller.name, remembered)
    submitted = [(row["id"], _audit_detail(row, batch=True)) for row in rows]
    await audit.record_many(conn, caller, "nomination.submitted", submitted)
    log.info("nomination batch submitted", items=len(items), created=len(rows))
    return await _hide_others(conn, caller, outcomes), envelopes


async def _hide_others(conn: Conn, caller: Principal, outcomes: list[BatchOutcome]) -> list[BatchOutcome]:
    """A conflict with a nomination the caller may not read keeps its id to itself."""
    others = [o.nomination_id for o in outcomes if isinstance(o, AlreadyNominated)]
    if not others:
        return outcomes
    visible = await access.visible(conn, caller, others)
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
