"""The dispatch job: send due deliveries, record what each provider answered.

A round is three steps, two of them transactions: claim a batch of due deliveries (``claim``: the claim counts an
attempt and leases the delivery for ``lease_s``; over-limit messages fold into their digest or wait for the next
day), call the providers with no transaction open, then record every answer with the events they produce
(``record``). The job runs again at once while rounds come back full, else waits for the poll interval or a NOTIFY
from a transaction that made deliveries due (``adapters.wakeup``).

Delivery is at least once: if the process dies after a provider accepted a message but before the outcome
committed, the claim expires and the message is sent again, with the same delivery id as the provider's
idempotency key / reference. On shutdown the round in flight is finished and recorded first.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.notification.adapters import card
from services.notification.commands import ClaimDue, RecordOutcomes
from services.notification.domain import dispatch, limits
from services.notification.domain.deliveries import Delivery
from services.notification.domain.dispatch import Deferred, Message, Outcome
from services.notification.domain.replytexts import REPLY
from services.notification.domain.texts import DIGEST, SUBJECTS
from services.notification.errors import SendFailed
from services.notification.handlers.outcomes import outcome_events
from services.notification.repository import deliveries as repository
from services.notification.repository import digests as repository_digests
from services.notification.repository import limits as repository_limits
from services.notification.repository import receipts as repository_receipts
from shared import messaging
from shared.db import Conn
from shared.errors import is_transient
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


async def step(deps: Deps) -> Next:
    """One job round; a cancellation (shutdown) lets the round in flight finish within the shutdown grace."""
    await deps.listener.ensure()
    current = asyncio.ensure_future(dispatch_once(deps))
    try:
        claimed = await asyncio.shield(current)
    except asyncio.CancelledError:
        # Providers may already have accepted messages of this round: record that before leaving, or they would
        # be sent again once their claim expires.
        done, _ = await asyncio.wait({current}, timeout=deps.dispatch.shutdown_grace_s)
        if current in done and not current.cancelled() and current.exception() is not None:
            log.warning("last dispatcher round failed", error_type=type(current.exception()).__name__)
        elif not done:
            current.cancel()
        raise
    return Next.NOW if claimed >= deps.dispatch.batch_size else Next.WAIT


async def dispatch_once(deps: Deps) -> int:
    """One round: claim, send, record. Returns how many deliveries were claimed."""
    policy = deps.dispatch
    claimed = await messaging.run(deps, claim, ClaimDue(limit=policy.batch_size, lease_s=policy.lease_s))
    if not claimed.deliveries:
        return 0
    sending = [d for d in claimed.deliveries if d.id not in claimed.later]
    results = await asyncio.gather(*(_attempt(deps, d, d.address in claimed.stopped) for d in sending))
    outcomes: list[tuple[Delivery, Outcome]] = list(zip(sending, results, strict=True))
    outcomes += [(d, o) for d in claimed.deliveries if isinstance(o := claimed.later.get(d.id), Deferred)]
    # Retried on a database hiccup: the messages are out, losing the record would mean sending them again.
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential_jitter(multiplier=0.2, max=5),
        stop=stop_after_attempt(5),
        reraise=True,
    ):
        with attempt:
            await messaging.run(deps, record, RecordOutcomes(outcomes=tuple(outcomes)))
    return len(claimed.deliveries)


@dataclass(frozen=True)
class Claimed:
    deliveries: list[Delivery]
    stopped: set[str] = field(default_factory=set)  # opted-out addresses among them
    # Not to send now: folded into their digest (None) or deferred to the next local day.
    later: dict[uuid.UUID, Outcome | None] = field(default_factory=dict)


async def claim(deps: Deps, conn: Conn, cmd: ClaimDue) -> Handled[Claimed]:
    deliveries = await repository.claim_due(conn, cmd.limit, cmd.lease_s)
    if not deliveries:
        return Handled(Claimed([]))
    stopped = await repository_receipts.opted_out(conn, (d.address for d in deliveries))
    later = await _over_recipient_limit(deps, conn, deliveries)
    return Handled(Claimed(deliveries, stopped, later))


async def _over_recipient_limit(deps: Deps, conn: Conn, claimed: list[Delivery]) -> dict[uuid.UUID, Outcome | None]:
    limit = deps.dispatch.recipient_daily_limit
    if limit <= 0:
        return {}
    now, zone = deps.now(), deps.dispatch.window.zone
    counts = await repository_limits.sent_today(conn, (d.address for d in claimed), limits.day_start(now, zone))
    over = limits.over_limit(claimed, counts, limit, deps.dispatch.digests)
    if not over.fold and not over.next_day:
        return {}
    unfolded = await repository_limits.fold_into_digest(conn, over.fold)
    tomorrow = Deferred(limits.next_day(now, zone), reason="recipient daily limit")
    later: dict[uuid.UUID, Outcome | None] = {d.id: None for d in over.fold}
    later |= {d.id: tomorrow for d in [*over.next_day, *unfolded]}
    log.info(
        "recipient daily limit",
        folded=len(over.fold) - len(unfolded),
        deferred=len(later) - len(over.fold) + len(unfolded),
    )
    return later


async def _attempt(deps: Deps, delivery: Delivery, opted_out: bool = False) -> Outcome:
    channel = deps.channels.get(delivery.channel or "")
    if channel is None or delivery.address is None:
        return SendFailed(f"channel not configured: {delivery.channel}", transient=False)
    if opted_out:
        return SendFailed(dispatch.OPTED_OUT, transient=False)
    window = deps.dispatch.window
    # A reply answers a message the person just sent: it goes at once, also at night.
    if delivery.channel in deps.dispatch.quiet_channels and delivery.purpose != REPLY:
        now = deps.now()
        if not window.is_open(now):
            return Deferred(window.next_open(now))
    route = delivery.route
    attachment = None
    if route.get("card") and delivery.channel in dispatch.DOCUMENT_CHANNELS:
        try:  # the member's card (membership_card): a PDF rendered now, off the event loop
            attachment = await asyncio.to_thread(card.attachment, route["card"], deps.settings.self_check_url)
        except (KeyError, TypeError, ValueError) as exc:
            return SendFailed(f"card not renderable ({type(exc).__name__})", transient=False)
    message = Message(
        delivery.id,
        delivery.address,
        SUBJECTS[delivery.purpose],
        delivery.body,
        whatsapp_template=route.get("whatsapp_template"),
        parameters=tuple(route.get("params") or ()),
        attachment=attachment,
    )
    async with deps.throttle.slot(channel.name):  # the providers' limits, shared by every call of this process
        try:
            return await channel.send(message)
        except SendFailed as exc:
            return exc
        except Exception as exc:
            # A bug in a channel must not stop the other messages; retrying is harmless, failing would be final.
            log.exception("channel error", delivery_id=str(delivery.id), channel=channel.name)
            return SendFailed(f"unexpected error: {type(exc).__name__}", transient=True)


async def record(deps: Deps, conn: Conn, cmd: RecordOutcomes) -> Handled[None]:
    """Every answer of a round, and the events they produce: sent, moved to the next channel, failed, retried later,
    deferred; receipts already waiting for the new message ids, and a digest's held messages, share the outcome."""
    s = dispatch.sort(cmd.outcomes, deps.dispatch.retry, deps.random_fraction)
    await repository_receipts.lock_keys(conn, s.receipt_keys)  # receipts may already wait (repository.receipts)
    done = await repository.mark_sent(conn, s.sent)
    # A permanent failure moves the delivery to its next channel; only the last one fails it.
    moved = await repository.fall_back(conn, s.permanent)
    final = [p for p in s.permanent if p[0] not in moved]
    given_up = await repository.mark_failed(conn, final)
    await repository.reschedule(conn, s.retries)
    await repository.defer(conn, s.deferred)
    _, failed_by_receipt = await repository_receipts.apply_receipts(conn, s.receipt_keys)
    channel_of = {d.id: d.channel for d, _ in cmd.outcomes}
    outcome_rows = s.history + [
        (i, channel_of[i], n, "fallback" if i in moved else "failed", cause) for i, n, cause in s.permanent
    ]
    await repository.record_attempts(conn, outcome_rows)
    # A digest's held per-person messages share its fate.
    held_sent = await repository_digests.resolve_held(conn, done)
    held_failed = [
        h
        for d in given_up
        if d.purpose == DIGEST and d.desa_code and d.digest_day
        for h in await repository_digests.fail_held(conn, d.desa_code, d.digest_day, d.last_error or "")
    ]
    for d in given_up:
        log.info("delivery failed", delivery_id=str(d.id), nomination_id=str(d.nomination_id), cause=d.last_error)
    log.info(
        "dispatched",
        sent=len(done),
        failed=len(given_up),
        rescheduled=len(s.retries),
        fell_back=len(moved),
        deferred=len(s.deferred),
    )
    return Handled(None, outcome_events(done + held_sent, given_up + failed_by_receipt + held_failed))
