"""The BPJS registrar job (``PAYUNG_BPJS_ADAPTER=http``): sends seats waiting as ``pending_bpjs``, applies the
answers.

Seats are claimed with a lease (``bpjs_next_attempt`` pushed forward in a short transaction, ``SKIP LOCKED`` so
replicas share the work), sent outside any transaction, and the answers applied in one transaction with their
events. When BPJS is unavailable the unanswered seats are postponed with a growing delay; a crash leaves them
claimed until the lease ends, after which they are sent again. A registration is therefore never lost, and the
reference (the nomination id) makes a repeated send harmless at BPJS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from services.enrolment import domain
from services.enrolment.adapters.bpjs_http import HttpBpjsClient
from services.enrolment.commands import ApplyAnswers, ClaimDuePending, PostponePending
from services.enrolment.errors import BpjsUnavailable
from services.enrolment.handlers.answers import apply_answers
from services.enrolment.handlers.seats import request_from_seat
from services.enrolment.repository import lifecycle as lrepo
from shared import logs, messaging
from shared.db import Conn
from shared.jobs import Job, Next
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)
MAX_DELAY_S = 3600.0


def job(deps: Deps, client: HttpBpjsClient) -> Job:
    """Rounds back to back while there is work, a pause when there is none (or a round failed: its seats stay
    claimed until the lease ends)."""

    async def step() -> Next:
        return Next.NOW if await register_round(deps, client) else Next.WAIT

    return Job("bpjs-registrar", step, interval_s=deps.settings.bpjs_registrar_interval_s)


async def register_round(deps: Deps, client: HttpBpjsClient) -> int:
    """One round: claim due seats, register them, apply the answers. Returns how many seats were claimed."""
    s = deps.settings
    # The lease covers the worst case of one round: every request timing out on every attempt.
    lease_s = s.bpjs_registrar_batch * s.bpjs_attempts * (s.bpjs_timeout_s + s.bpjs_backoff_s * 2**s.bpjs_attempts)
    claimed = await messaging.run(deps, claim_due, ClaimDuePending(limit=s.bpjs_registrar_batch, lease_s=lease_s))
    if not claimed:
        return 0
    answers: list[domain.Answer] = []
    for i, seat in enumerate(claimed):
        try:
            answers += await client.register([request_from_seat(seat)])
        except BpjsUnavailable as exc:
            rest = claimed[i:]
            delay = min(s.bpjs_retry_delay_s * 2 ** (min(r["bpjs_attempts"] for r in rest) - 1), MAX_DELAY_S)
            ids = tuple(r["nomination_id"] for r in rest)
            await messaging.run(
                deps, postpone, PostponePending(nomination_ids=ids, delay_s=delay, error=str(exc)[:500])
            )
            log.warning("bpjs unavailable, seats postponed", seats=len(rest), delay_s=delay, error=str(exc))
            break
    if answers:
        result = await messaging.run(deps, apply_answers, ApplyAnswers(answers=tuple(answers), recorded_by="bpjs:http"))
        log.info("bpjs answers applied", confirmed=result.confirmed, refused=result.refused,
                 skipped=len(result.skipped))  # fmt: skip
    return len(claimed)


async def claim_due(_deps: Deps, conn: Conn, cmd: ClaimDuePending) -> Handled[list[asyncpg.Record]]:
    """Take a lease on the seats due for a (re)send: no other replica sends them while it lasts."""
    return Handled(await lrepo.claim_due_pending(conn, cmd.limit, cmd.lease_s))


async def postpone(_deps: Deps, conn: Conn, cmd: PostponePending) -> Handled[None]:
    await lrepo.postpone_pending(conn, cmd.nomination_ids, cmd.delay_s, cmd.error)
    return Handled(None)
