"""The BPJS registrar (``PAYUNG_BPJS_ADAPTER=http``): sends seats waiting as ``pending_bpjs`` and applies the answers.

Seats are claimed with a lease (``bpjs_next_attempt`` pushed forward in a short transaction, ``SKIP LOCKED`` so
replicas share the work), sent outside any transaction, and the answers applied in one transaction with their
events. When BPJS is unavailable the unanswered seats are postponed with a growing delay; a crash leaves them
claimed until the lease ends, after which they are sent again. A registration is therefore never lost, and the
reference (the nomination id) makes a repeated send harmless at BPJS.
"""

from __future__ import annotations

import asyncio

import asyncpg

from services.enrolment import lifecycle
from services.enrolment import repository_lifecycle as lrepo
from services.enrolment.bpjs import Answer, BpjsGateway, BpjsUnavailable
from shared import logs

log = logs.get_logger(__name__)
MAX_DELAY_S = 3600.0


async def run_once(pool: asyncpg.Pool, seating: lifecycle.Seating, client: BpjsGateway) -> int:
    """One round: claim due seats, register them, apply the answers. Returns how many seats were claimed."""
    s = seating.settings
    # The lease covers the worst case of one round: every request timing out on every attempt.
    lease_s = s.bpjs_registrar_batch * s.bpjs_attempts * (s.bpjs_timeout_s + s.bpjs_backoff_s * 2**s.bpjs_attempts)
    async with pool.acquire() as conn:
        async with conn.transaction():
            claimed = await lrepo.claim_due_pending(conn, s.bpjs_registrar_batch, lease_s)
        if not claimed:
            return 0
        answers: list[Answer] = []
        for i, seat in enumerate(claimed):
            try:
                answers += await client.register(conn, [lifecycle.request_from_seat(seat)])
            except BpjsUnavailable as exc:
                rest = claimed[i:]
                delay = min(s.bpjs_retry_delay_s * 2 ** (min(r["bpjs_attempts"] for r in rest) - 1), MAX_DELAY_S)
                await lrepo.postpone_pending(conn, [r["nomination_id"] for r in rest], delay, str(exc)[:500])
                log.warning("bpjs unavailable, seats postponed", seats=len(rest), delay_s=delay, error=str(exc))
                break
        if answers:
            async with conn.transaction():
                result = await lifecycle.apply_answers(conn, seating, answers, recorded_by="bpjs:http")
            log.info("bpjs answers applied", confirmed=result.confirmed, refused=result.refused,
                     skipped=len(result.skipped))  # fmt: skip
    return len(claimed)


async def run(pool: asyncpg.Pool, seating: lifecycle.Seating, client: BpjsGateway) -> None:
    """Forever: rounds back to back while there is work, a pause when there is none or the database fails."""
    while True:
        try:
            claimed = await run_once(pool, seating, client)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failed round leaves its seats claimed until the lease ends; the registrar itself must live on.
            log.exception("bpjs registrar round failed")
            claimed = 0
        if claimed == 0:
            await asyncio.sleep(seating.settings.bpjs_registrar_interval_s)
