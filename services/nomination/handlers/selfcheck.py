"""Self-check ("Cek kepesertaan"): a lookup by NIK + birth date within the budgets, a card's status, and the
objection and lead a person files from the page (docs/outreach.md).

Every lookup is one row of ``selfcheck_lookups`` in the lookup's own transaction: the audit (time, channel, the
hashed source and NIK, hit/miss/limited) and the count the budgets' windows are read from. The NIK never leaves
this module in clear: it is looked up, and logged, by its person key.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.nomination.commands import AskToBeConsidered, LookUp, ObjectFromSelfCheck, ReadCard
from services.nomination.domain import limits, selfcheck
from services.nomination.domain.limits import Limits, Outcome
from services.nomination.domain.selfcheck import Candidate
from services.nomination.handlers import selfservice
from services.nomination.repository import selfcheck as repo
from services.nomination.settings import NominationSettings
from shared.contracts import SelfCheckStatus
from shared.db import Conn
from shared.keys import person_key
from shared.messaging import Handled

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


@dataclass(frozen=True)
class Answer:
    """A lookup's outcome; ``status`` and ``nomination_id`` on a hit only. ``first_limited``: the first refusal of
    this source in the lock-out's window (a keyword answers "limited" once, then nothing)."""

    outcome: Outcome
    status: SelfCheckStatus | None = None
    nomination_id: uuid.UUID | None = None
    first_limited: bool = False


def limits_of(settings: NominationSettings) -> Limits:
    return Limits(
        source_window_s=settings.selfcheck_source_window_s,
        source_misses=settings.selfcheck_source_misses,
        source_attempts=settings.selfcheck_source_attempts,
        nik_window_s=settings.selfcheck_nik_window_s,
        nik_misses=settings.selfcheck_nik_misses,
        nik_attempts=settings.selfcheck_nik_attempts,
        global_window_s=settings.selfcheck_global_window_s,
        global_misses=settings.selfcheck_global_misses,
    )


def source_of(settings: NominationSettings, kind: str, value: str) -> str:
    """The hashed source of a lookup (``ip:<address>``): an HMAC with the person-key secret, never the value."""
    return person_key(f"{kind}:{value}", settings.person_key_secret)


async def look_up(deps: Deps, conn: Conn, cmd: LookUp) -> Handled[Answer]:
    """The status of the nomination a NIK + birth date names, within the budgets; logged in every case."""
    nik_hash = person_key(cmd.nik, deps.settings.person_key_secret)
    await repo.serialise(conn, cmd.source_hash, nik_hash)
    now = await repo.now(conn)
    budgets = limits_of(deps.settings)
    counts = await repo.counts(conn, cmd.source_hash, nik_hash, limits.windows(now, budgets))
    budget = limits.exhausted(counts, budgets)
    logged = functools.partial(
        repo.record, conn, at=now, channel=cmd.channel, source_hash=cmd.source_hash, nik_hash=nik_hash
    )
    if budget is not None:
        since, _ = limits.lockout(budget, now, budgets)
        first = not await repo.told_limited_since(conn, cmd.source_hash, since)
        told = first and cmd.channel != "web"
        await logged(outcome="limited", budget=budget, told=told)
        return Handled(Answer("limited", first_limited=first))
    found = selfcheck.choose(await repo.candidates(conn, nik_hash), cmd.birth_date)
    if found is None:
        await logged(outcome="miss")
        return Handled(Answer("miss"))
    status = await status_of(conn, found)
    await logged(outcome="hit", nomination_id=found.nomination_id)
    return Handled(Answer("hit", status, found.nomination_id))


async def status_of(conn: Conn, found: Candidate) -> SelfCheckStatus:
    since, until = await repo.cover_dates(conn, found.nomination_id)
    objection = await selfservice.latest_objection(conn, found.nomination_id)
    return selfcheck.status_of(found.progress, covered_since=since, covered_until=until, objection=objection)


async def read_card(deps: Deps, conn: Conn, cmd: ReadCard) -> Handled[SelfCheckStatus | None]:
    """The status of a card's member (the token is signed, so it is no guess: outside the budgets), logged."""
    found = await repo.candidate(conn, cmd.nomination_id)
    now = await repo.now(conn)
    if found is None:  # a genuine token of a nomination this database does not hold (another environment's card)
        await repo.record(conn, at=now, channel="card", source_hash=cmd.source_hash, nik_hash=None, outcome="miss")
        return Handled(None)
    key, candidate = found
    status = await status_of(conn, candidate)
    await repo.record(
        conn,
        at=now,
        channel="card",
        source_hash=cmd.source_hash,
        nik_hash=key,
        outcome="hit",
        nomination_id=candidate.nomination_id,
    )
    return Handled(status)


async def object_to(
    deps: Deps, conn: Conn, cmd: ObjectFromSelfCheck
) -> Handled[selfservice.Filed | selfservice.Unavailable]:
    """An objection by the person themself, for the nomination of a successful lookup (its signed reference)."""
    found = await repo.candidate(conn, cmd.nomination_id)
    if found is None or not selfcheck.objectable(await status_of(conn, found[1])):
        return Handled(selfservice.Unavailable("not_objectable"))
    filed, events = await selfservice.file_objection(
        deps,
        conn,
        nomination_id=cmd.nomination_id,
        channel=cmd.channel,
        reason_code=cmd.reason_code,
        reason_text=cmd.reason_text,
        evidence=cmd.evidence,
    )
    return Handled(filed, events)


async def ask(
    deps: Deps, conn: Conn, cmd: AskToBeConsidered
) -> Handled[selfservice.LeadTaken | selfservice.Unavailable]:
    taken, events = await selfservice.receive_lead(
        deps,
        conn,
        desa_code=cmd.desa_code,
        full_name=cmd.full_name,
        phone=cmd.phone,
        occupation=cmd.occupation,
        channel=cmd.channel,
    )
    return Handled(taken, events)
