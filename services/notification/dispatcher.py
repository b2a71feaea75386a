"""The dispatcher: sends due deliveries through their channels and records what became of them.

One round: claim up to a batch of due deliveries (``FOR UPDATE SKIP LOCKED``, in a statement of its own, so several
replicas share the work), send them concurrently, then record every outcome in ONE transaction together with its
event: sent -> ``NotificationSent``; failed for good -> ``NotificationFailed``; a transient failure -> pending again
after a backoff (or the provider's Retry-After), failed once the attempts run out. Rounds follow each other while
work is due; otherwise the dispatcher waits for a NOTIFY from the handler (or the API) or the poll interval.

Delivery is at least once: if the process dies after a provider accepted a message but before the outcome
committed, the claim expires and the message is sent again, with the same delivery id as the provider's
idempotency key / reference. On shutdown the round in flight is finished and recorded first.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.notification import (
    domain,
    recipient_limit,
    repository,
    repository_digests,
    repository_limits,
    repository_receipts,
)
from services.notification.channels import Accepted, Channel, Message, SendFailed
from services.notification.handlers import outcome_events
from services.notification.repository import Delivery
from services.notification.schedule import SendWindow, TokenBucket
from shared import db, outbox
from shared.db import Conn
from shared.errors import is_transient
from shared.logs import get_logger

log = get_logger(__name__)


@dataclass
class DispatcherStats:
    rounds: int = 0
    sent: int = 0
    failed: int = 0
    rescheduled: int = 0
    fell_back: int = 0
    deferred: int = 0
    folded: int = 0  # over the per-recipient daily limit: held inside the desa's digest
    last_error: str | None = None


OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Deferred:
    """Not sent now (quiet hours, the recipient's daily limit): due again at ``until``; the claim does not count
    as an attempt."""

    until: datetime
    reason: str = "quiet hours"


Outcome = Accepted | SendFailed | Deferred


@dataclass(frozen=True)
class DispatcherConfig:
    topic_prefix: str = ""
    batch_size: int = 200
    concurrency: int = 20
    poll_interval_s: float = 1.0
    lease_s: float = 300.0
    shutdown_grace_s: float = 20.0
    retry: domain.RetryPolicy = field(default_factory=domain.RetryPolicy)
    window: SendWindow = field(default_factory=SendWindow)
    quiet_channels: frozenset[str] = frozenset()  # the service passes its settings' (SMS and WhatsApp by default)
    rates: Mapping[str, float] = field(default_factory=dict)  # messages per second per channel; absent/0: unlimited
    recipient_daily_limit: int = 0  # messages per address per local day (recipient_limit); 0: no limit
    digests: bool = False  # whether messages over that limit can fold into the desa's digest


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        channels: Mapping[str, Channel],
        config: DispatcherConfig,
        random_fraction: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._channels = channels
        self._config = config
        self._random_fraction = random_fraction
        self._now = now
        self._buckets = {name: TokenBucket(rate) for name, rate in config.rates.items() if rate > 0}
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._wake = asyncio.Event()
        self.stats = DispatcherStats()

    async def run(self) -> None:
        """Dispatch until cancelled; a cancellation lets the round in flight finish (within the shutdown grace)."""
        listener: Conn | None = None
        delay = 0.2
        try:
            while True:
                listener = await self._listen(listener)
                self._wake.clear()
                try:
                    claimed = await self._round_to_completion()
                    delay = 0.2
                    self.stats.last_error = None
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.stats.last_error = type(exc).__name__
                    if is_transient(exc):
                        log.warning("dispatcher waiting for infrastructure", error_type=type(exc).__name__)
                    else:
                        log.exception("dispatcher round failed", error_type=type(exc).__name__)
                    await self._sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                if claimed < self._config.batch_size:
                    await self._sleep(self._config.poll_interval_s)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.close(), timeout=5)

    async def _round_to_completion(self) -> int:
        current = asyncio.ensure_future(self.dispatch_once())
        try:
            return await asyncio.shield(current)
        except asyncio.CancelledError:
            # Shutting down. Providers may already have accepted messages of this round: record that before
            # leaving, or they would be sent again once their claim expires.
            done, _ = await asyncio.wait({current}, timeout=self._config.shutdown_grace_s)
            if current in done and not current.cancelled() and current.exception() is not None:
                log.warning("last dispatcher round failed", error_type=type(current.exception()).__name__)
            elif not done:
                current.cancel()
            raise

    async def dispatch_once(self) -> int:
        """One round: claim, send, record. Returns how many deliveries were claimed."""
        async with self._pool.acquire() as conn:
            claimed = await repository.claim_due(conn, self._config.batch_size, self._config.lease_s)
            stopped = await repository_receipts.opted_out(conn, (d.address for d in claimed)) if claimed else set()
            later = await self._over_recipient_limit(conn, claimed) if claimed else {}
        if not claimed:
            return 0
        sending = [d for d in claimed if d.id not in later]
        results = await asyncio.gather(*(self._attempt(d, d.address in stopped) for d in sending))
        outcomes: list[tuple[Delivery, Outcome]] = list(zip(sending, results, strict=True))
        outcomes += [(d, o) for d in claimed if d.id in later and isinstance(o := later[d.id], Deferred)]
        await self._record(outcomes)
        self.stats.rounds += 1
        return len(claimed)

    async def _over_recipient_limit(self, conn: Conn, claimed: list[Delivery]) -> dict[uuid.UUID, Outcome | None]:
        """The claimed deliveries not to send now (recipient_limit): folded into their digest (None) or deferred
        to the next local day (Deferred)."""
        limit = self._config.recipient_daily_limit
        if limit <= 0:
            return {}
        now, zone = self._now(), self._config.window.zone
        counts = await repository_limits.sent_today(
            conn, (d.address for d in claimed), recipient_limit.day_start(now, zone)
        )
        over = recipient_limit.over_limit(claimed, counts, limit, self._config.digests)
        if not over.fold and not over.next_day:
            return {}
        async with conn.transaction():
            unfolded = await repository_limits.fold_into_digest(conn, over.fold)
        tomorrow = Deferred(recipient_limit.next_day(now, zone), reason="recipient daily limit")
        later: dict[uuid.UUID, Outcome | None] = {d.id: None for d in over.fold}
        later |= {d.id: tomorrow for d in [*over.next_day, *unfolded]}
        self.stats.folded += len(over.fold) - len(unfolded)
        log.info(
            "recipient daily limit",
            folded=len(over.fold) - len(unfolded),
            deferred=len(later) - len(over.fold) + len(unfolded),
        )
        return later

    async def _attempt(self, delivery: Delivery, opted_out: bool = False) -> Outcome:
        channel = self._channels.get(delivery.channel or "")
        if channel is None or delivery.address is None:
            return SendFailed(f"channel not configured: {delivery.channel}", transient=False)
        if opted_out:
            return SendFailed(OPTED_OUT, transient=False)
        if delivery.channel in self._config.quiet_channels:
            now = self._now()
            if not self._config.window.is_open(now):
                return Deferred(self._config.window.next_open(now))
        route = delivery.route
        message = Message(
            delivery.id,
            delivery.address,
            domain.SUBJECTS[delivery.purpose],
            delivery.body,
            whatsapp_template=route.get("whatsapp_template"),
            parameters=tuple(route.get("params") or ()),
        )
        async with self._semaphore:
            bucket = self._buckets.get(channel.name)
            if bucket is not None:
                await bucket.take()  # the provider's rate limit, shared by every call of this process
            try:
                return await channel.send(message)
            except SendFailed as exc:
                return exc
            except Exception as exc:
                # A bug in a channel must not stop the other messages; retrying is harmless, failing would be final.
                log.exception("channel error", delivery_id=str(delivery.id), channel=channel.name)
                return SendFailed(f"unexpected error: {type(exc).__name__}", transient=True)

    async def _record(self, outcomes: list[tuple[Delivery, Outcome]]) -> None:
        sent: list[tuple[uuid.UUID, int, str | None]] = []
        permanent: list[tuple[uuid.UUID, int, str]] = []
        retries: list[tuple[uuid.UUID, int, float, str]] = []
        deferred: list[tuple[uuid.UUID, int, datetime]] = []
        history: list[tuple[uuid.UUID, str | None, int, str, str | None]] = []
        receipt_keys: list[tuple[str, str]] = []
        for delivery, result in outcomes:
            key = (delivery.id, delivery.attempts)
            if isinstance(result, Deferred):
                deferred.append((*key, result.until))
                history.append((delivery.id, delivery.channel, delivery.attempts, "deferred", result.reason))
                continue
            if isinstance(result, Accepted):
                sent.append((*key, result.provider_message_id))
                history.append((delivery.id, delivery.channel, delivery.attempts, "sent", None))
                if result.provider_message_id and delivery.channel:
                    receipt_keys.append((delivery.channel, result.provider_message_id))
                continue
            delay = None
            if result.transient:
                delay = domain.retry_delay(
                    delivery.attempts, self._config.retry, self._random_fraction(), result.retry_after_s
                )
            if delay is not None:
                retries.append((*key, delay, result.cause))
                history.append((delivery.id, delivery.channel, delivery.attempts, "retry", result.cause))
            elif result.transient:
                permanent.append((*key, f"{result.cause} (gave up after {delivery.attempts} attempts)"))
            else:
                permanent.append((*key, result.cause))
        # Retried on a database hiccup: the messages are out, losing the record would mean sending them again.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            stop=stop_after_attempt(5),
            reraise=True,
        ):
            with attempt:
                async with self._pool.acquire() as conn, conn.transaction():
                    # Receipts may already be waiting for these message ids (see repository_receipts).
                    await repository_receipts.lock_keys(conn, receipt_keys)
                    done = await repository.mark_sent(conn, sent)
                    # A permanent failure moves the delivery to its next channel; only the last one fails it.
                    moved = await repository.fall_back(conn, permanent)
                    final = [p for p in permanent if p[0] not in moved]
                    given_up = await repository.mark_failed(conn, final)
                    await repository.reschedule(conn, retries)
                    await repository.defer(conn, deferred)
                    _, failed_by_receipt = await repository_receipts.apply_receipts(conn, receipt_keys)
                    channel_of = {d.id: d.channel for d, _ in outcomes}
                    outcome_rows = history + [
                        (i, channel_of[i], n, "fallback" if i in moved else "failed", cause)
                        for i, n, cause in permanent
                    ]
                    await repository.record_attempts(conn, outcome_rows)
                    # A digest's held per-person messages share its fate.
                    held_sent = await repository_digests.resolve_held(conn, done)
                    held_failed = [
                        h
                        for d in given_up
                        if d.purpose == domain.DIGEST and d.desa_code and d.digest_day
                        for h in await repository_digests.fail_held(conn, d.desa_code, d.digest_day, d.last_error or "")
                    ]
                    events = outcome_events(done + held_sent, given_up + failed_by_receipt + held_failed)
                    await outbox.add_events(conn, events, self._config.topic_prefix)
        self.stats.sent += len(done)
        self.stats.failed += len(given_up)
        self.stats.rescheduled += len(retries)
        self.stats.fell_back += len(moved)
        self.stats.deferred += len(deferred)
        for d in given_up:
            log.info("delivery failed", delivery_id=str(d.id), nomination_id=str(d.nomination_id), cause=d.last_error)
        log.info(
            "dispatched",
            sent=len(done),
            failed=len(given_up),
            rescheduled=len(retries),
            fell_back=len(moved),
            deferred=len(deferred),
        )

    async def _listen(self, listener: Conn | None) -> Conn | None:
        """A connection LISTENing for wake-ups, (re)opened when missing; None (poll only) while that fails."""
        if listener is not None and not listener.is_closed():
            return listener
        try:
            conn = await db.connect(self._dsn)
            await conn.add_listener(repository.WAKE_CHANNEL, lambda *_: self._wake.set())
        except Exception as exc:
            # Polling still works; the claim that follows reports a database that is really gone.
            log.warning("dispatcher cannot listen, polling", error_type=type(exc).__name__)
            return None
        return conn

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
