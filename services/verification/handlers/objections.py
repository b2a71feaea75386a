"""Objections (sanggahan): filed cases into the queue, taken up, decided; an upheld rejection re-run afresh.

``objections_filed`` (consumer group ``objection.filed``) records each objection once (inbox, and the objection id
is the key: a replay under a new event id is the same case) with its evidence decoded and checked; an objection
about a nomination verification never decided, on a ground that does not match the decision (a rejection objected
to that was not rejected), or with evidence that is not what it says is a dead letter with the cause.

A decision locks the case (``FOR UPDATE``): of two reviewers deciding at once, the second finds it decided (409) and
nothing of theirs is written. The ``ObjectionReviewed`` and, for an upheld rejection, the re-run's result
(``IdentityVerified`` / ``IdentityRejected`` with ``objection_id``, or ``IdentityReviewRequested``) commit in one
transaction with the case, the decision's row and the audit row. The re-run asks the civil registry afresh: its
cached answer is dropped and the registry asked BEFORE the transaction (``decide_objection``), as every decision is.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from services.verification import domain
from services.verification.adapters.registry import Fetched, record_json
from services.verification.commands import DecideObjection, RerunTarget, TakeUpObjection
from services.verification.domain import duplicates
from services.verification.domain import objections as rules
from services.verification.errors import (
    EvidenceRefused,
    InvalidNote,
    ObjectionChanged,
    ObjectionClosed,
    ObjectionNotFound,
    ObjectionNotRerunnable,
    RegistryBusy,
    RegistryUnavailable,
)
from services.verification.handlers.decide import PRODUCER
from services.verification.repository import objections as repo
from services.verification.repository import registry as registry_repo
from services.verification.repository import verifications as verifications_repo
from services.verification.repository.reviews import ReviewRow
from shared import audit, messaging
from shared.contracts import (
    Envelope,
    IdentityRejected,
    IdentityVerified,
    NominationSubmitted,
    Nominator,
    ObjectionFiled,
    ObjectionReviewed,
    Payload,
    decode,
    new_envelope,
)
from shared.db import Conn
from shared.errors import PoisonMessage
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps

log = get_logger(__name__)

NOTE_MAX = 1000
_OBJECTABLE = {"rejected": {"rejected"}, "ended": {"ended", "verified"}}


@dataclass(frozen=True)
class ObjectionDecided:
    objection_id: uuid.UUID
    state: str
    version: int
    event_ids: tuple[uuid.UUID, ...]
    result_event_type: str | None = None
    waived: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------------ filed


async def objections_filed(deps: Deps, conn: Conn, events: Sequence[Envelope[ObjectionFiled]]) -> list[Envelope[Any]]:
    """Each objection becomes a case once; see the module docstring for what is a dead letter."""
    added = 0
    for event in events:
        filed = event.payload
        decision = await repo.decision_of(conn, filed.nomination_id)
        if decision is None or decision["outcome"] in ("pending", "in_review"):
            raise PoisonMessage("objection about a nomination verification never decided", "objection_undecided")
        if decision["outcome"] not in _OBJECTABLE[filed.ground]:
            raise PoisonMessage(
                f"objection on ground {filed.ground} about a nomination that is {decision['outcome']}",
                "objection_ground_mismatch",
            )
        if decision["person_key"] != event.person_key:
            raise PoisonMessage("objection's person key is not its nomination's", "objection_person_mismatch")
        try:
            files = [rules.evidence_file(e.filename, e.content_type, e.sha256, e.data) for e in filed.evidence]
        except EvidenceRefused as exc:
            raise PoisonMessage(str(exc), "evidence_refused") from None
        objected = {
            "outcome": decision["outcome"],
            "reasons": [r.get("code") for r in decision["reasons"] or []],
            "review_reasons": [r.get("code") for r in decision["review_reasons"] or []],
        }
        row = {
            "objection_id": filed.objection_id,
            "nomination_id": filed.nomination_id,
            "person_key": event.person_key,
            "ground": filed.ground,
            "reason_code": filed.reason_code,
            "reason_text": filed.reason_text,
            "filed_by": filed.filed_by,
            "channel": filed.channel,
            "filed_at": filed.filed_at,
            "due_by": filed.due_by,
            "desa_code": filed.desa_code,
            "filed": filed.model_dump(mode="json", exclude={"evidence"}),
            "objected": objected,
            "source_event_id": event.event_id,
        }
        evidence = [(filed.objection_id, i, f.filename, f.content_type, f.sha256, f.data) for i, f in enumerate(files)]
        added += await repo.insert_objection(conn, row, evidence)
    log.info("objections filed", added=added, replayed=len(events) - added)
    return []


# ------------------------------------------------------------------------------------------------ take up


async def take_up(deps: Deps, conn: Conn, cmd: TakeUpObjection) -> Handled[ObjectionDecided]:
    """A reviewer takes up a received case: ``ObjectionReviewed`` in_review (told to the person)."""
    case = await _locked(conn, cmd.objection_id, cmd.caller, cmd.via, cmd.expected_version)
    if case["state"] != "received":
        raise ObjectionClosed(f"objection is already {case['state']}")
    taken = await repo.take_up(conn, cmd.objection_id, cmd.caller.name)
    envelope = _reviewed(case, "in_review", "", taken["taken_at"])
    await audit.record(conn, cmd.caller, "objection.taken_up", str(cmd.objection_id), {"via": cmd.via})
    result = ObjectionDecided(cmd.objection_id, "in_review", taken["version"], (envelope.event_id,))
    return Handled(result, [envelope])


# ------------------------------------------------------------------------------------------------ decide


async def decide_objection(deps: Deps, cmd: DecideObjection) -> ObjectionDecided:
    """Decide a case: for an upheld rejection, ask the registry afresh first (outside any transaction)."""
    _check_note(cmd.note)
    if cmd.verdict == "upheld":
        nik = await messaging.run(deps, rerun_target, RerunTarget(objection_id=cmd.objection_id))
        if nik is not None:
            fetched = getattr(deps.registry, "fetched", None)
            if isinstance(fetched, Fetched):
                fetched.forget([nik])
            await deps.registry.prefetch([nik])
    return await messaging.run(deps, decide, cmd)


async def rerun_target(deps: Deps, conn: Conn, cmd: RerunTarget) -> Handled[str | None]:
    """The NIK an upheld re-run asks about, its cached answer dropped (None: no re-run, or nothing to re-run)."""
    case = await repo.get(conn, cmd.objection_id)
    if case is None or case["ground"] != "rejected" or case["state"] in ("upheld", "dismissed"):
        return Handled(None)
    submitted = _submission(await repo.decision_of(conn, case["nomination_id"]))
    if submitted is None:
        return Handled(None)
    await registry_repo.forget_answers(conn, [submitted.payload.nik])
    return Handled(submitted.payload.nik)


async def decide(deps: Deps, conn: Conn, cmd: DecideObjection) -> Handled[ObjectionDecided]:
    """Apply one reviewer's decision (see the module docstring); a decided case answers ``ObjectionClosed``."""
    _check_note(cmd.note)
    case = await _locked(conn, cmd.objection_id, cmd.caller, cmd.via, cmd.expected_version)
    if case["state"] in ("upheld", "dismissed"):
        raise ObjectionClosed(f"objection is already {case['state']}")
    now = datetime.now(UTC)
    reviewed = _reviewed(case, cmd.verdict, cmd.note, now)
    out: list[Envelope[Any]] = [reviewed]
    waived: list[str] = []
    result: Envelope[Payload] | None = None
    if cmd.verdict == "upheld" and case["ground"] == "rejected":
        result, waived = await _rerun(deps, conn, case, reviewed.event_id, now)
        out.append(result)
    elif cmd.verdict == "upheld":  # an ended cover: enrolment gives the seat back; the person is verified again
        await repo.restore_verified(conn, case["nomination_id"], case["person_key"])
    closed = await repo.close(
        conn, cmd.objection_id, cmd.verdict, cmd.caller.name, cmd.note, waived, result.event_id if result else None
    )
    detail: dict[str, Any] = {"decision": cmd.verdict, "via": cmd.via}
    if waived:
        detail["waived"] = waived
    await audit.record(conn, cmd.caller, "objection.decided", str(cmd.objection_id), detail)
    decided = ObjectionDecided(
        cmd.objection_id,
        cmd.verdict,
        closed["version"],
        tuple(e.event_id for e in out),
        result.event_type if result else None,
        tuple(waived),
    )
    return Handled(decided, out)


def _check_note(note: str) -> None:
    if not note.strip():
        raise InvalidNote("a decision needs a note")
    if len(note) > NOTE_MAX:
        raise InvalidNote(f"the note is longer than {NOTE_MAX} characters")


async def _locked(conn: Conn, objection_id: uuid.UUID, caller: Any, via: str, expected: int | None) -> Any:
    case = await repo.get(conn, objection_id, lock=True)
    if case is None or (via == "workspace" and not caller.covers(case["desa_code"])):
        raise ObjectionNotFound("no such objection")
    if expected is not None and case["version"] != expected:
        raise ObjectionChanged(f"objection changed since it was opened (now {case['state']})")
    return case


def _reviewed(case: Any, state: str, note: str, at: datetime) -> Envelope[ObjectionReviewed]:
    filed = case["filed"]
    payload = ObjectionReviewed(
        objection_id=case["objection_id"],
        nomination_id=case["nomination_id"],
        state=state,  # type: ignore[arg-type]  # one of in_review, upheld, dismissed (the callers')
        ground=case["ground"],
        reason_code=case["reason_code"],
        note=note,
        filed_at=case["filed_at"],
        reviewed_at=at,
        full_name=filed["full_name"],
        phone=filed["phone"],
        desa_code=filed["desa_code"],
        nominator=Nominator.model_validate(filed["nominator"]),
    )
    return new_envelope(
        payload,
        producer=PRODUCER,
        person_key=case["person_key"],
        correlation_id=case["nomination_id"],
        causation_id=case["source_event_id"],
    )


def _submission(decision: Any) -> Envelope[NominationSubmitted] | None:
    if decision is None or decision["outcome"] != "rejected":
        return None
    raw = decision["submitted"] or decision["review_envelope"]
    return None if raw is None else decode(orjson.dumps(raw), NominationSubmitted)


async def _rerun(
    deps: Deps, conn: Conn, case: Any, cause: uuid.UUID, now: datetime
) -> tuple[Envelope[Payload], list[str]]:
    """Decide the rejected nomination again: a fresh registry answer, the objected judgements waived."""
    submitted = _submission(await repo.decision_of(conn, case["nomination_id"], lock=True))
    if submitted is None:
        raise ObjectionNotRerunnable("the nomination is not rejected, or was decided before objections were kept")
    nomination = submitted.payload
    try:
        answer = await deps.registry.answer(conn, [nomination.nik])
    except RegistryUnavailable:
        raise RegistryBusy("the civil registry cannot answer now: decide again later") from None
    if nomination.nik in answer.unavailable:
        raise RegistryBusy("the civil registry cannot answer now: decide again later")
    record = answer.records.get(nomination.nik)
    ids = [nomination.nomination_id]
    active = await verifications_repo.verified_people(conn, [submitted.person_key], besides=ids)
    wage_earners = await verifications_repo.wage_earners(conn, [nomination.nik])
    evidence: list[duplicates.DuplicateEvidence] = []
    if record is not None:
        known = [
            duplicates.KnownPerson(**dict(r))
            for r in await verifications_repo.known_people(conn, [record.birth_date])
            if r["nomination_id"] != nomination.nomination_id
        ]
        evidence = duplicates.likely_same_person(
            nomination.nik,
            record.full_name,
            record.birth_date,
            record.no_kk,
            nomination.address.desa_code,
            known,
            deps.policy.duplicate_name_threshold,
        )
    fresh = domain.decide(
        nomination,
        on=domain.decision_date(now),
        record=record,
        already_verified=submitted.person_key in active,
        regions=deps.regions,
        policy=deps.policy,
        duplicates=evidence,
        active_wage_earner=nomination.nik in wage_earners,
    )
    objected = case["objected"]
    codes = rules.waived_codes([*objected.get("reasons", []), *objected.get("review_reasons", [])])
    found = {f.code for c in fresh.checks for f in c.findings}
    decision = rules.waive(fresh, codes)
    payload: Any = domain.decision_event(nomination, decision)
    if isinstance(payload, IdentityVerified | IdentityRejected):
        payload = payload.model_copy(update={"objection_id": case["objection_id"]})
    envelope: Envelope[Payload] = new_envelope(
        payload,
        producer=PRODUCER,
        person_key=submitted.person_key,
        correlation_id=nomination.nomination_id,
        causation_id=cause,
    )
    record_now = decision.record
    await repo.rerun_decision(
        conn,
        nomination.nomination_id,
        {
            "outcome": decision.outcome,
            "reasons": [r.model_dump() for r in decision.reasons],
            "flags": [f.model_dump() for f in decision.flags],
            "checks": [c.record() for c in decision.checks],
            "name_score": decision.name_score,
            "registry_snapshot_id": answer.snapshot_id,
            "event_id": envelope.event_id,
            "full_name": record_now.full_name if record_now else None,
            "name_key": duplicates.name_key(record_now.full_name) if record_now else None,
            "birth_date": record_now.birth_date if record_now else None,
            "no_kk": record_now.no_kk if record_now else None,
        },
    )
    if decision.outcome == "in_review" and record_now is not None:
        review = ReviewRow(
            nomination_id=nomination.nomination_id,
            person_key=submitted.person_key,
            layer=decision.review_layer,
            desa_code=nomination.address.desa_code,
            reasons=[r.model_dump() for r in decision.review_reasons],
            evidence=[e.as_json() for e in decision.duplicates],
            envelope=orjson.loads(orjson.dumps(submitted.model_dump(mode="json"))),
            record=record_json(record_now),
            name_score=decision.name_score,
            flags=[f.model_dump() for f in decision.flags],
        )
        await repo.reopen_review(conn, review)
    return envelope, sorted(codes & found)
