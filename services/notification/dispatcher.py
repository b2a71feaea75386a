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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.notification import domain, repository
from services.notification.channels import Accepted, Channel, Message, SendFailed
from services.notification.handlers import failed_event, sent_event
from services.notification.repository import Delivery
from shared import db, outbox
from shared.errors import is_transient
from shared.logs import get_logger

log = get_logger(__name__)


@dataclass
class DispatcherStats:
    rounds: int = 0
    sent: int = 0
    failed: int = 0
    rescheduled: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class DispatcherConfig:
    topic_prefix: str = ""
    batch_size: int = 200
    concurrency: int = 20
    poll_interval_s: float = 1.0
    lease_s: float = 300.0
    shutdown_grace_s: float = 20.0
    retry: domain.RetryPolicy = field(default_factory=domain.RetryPolicy)


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        channels: Mapping[str, Channel],
        config: DispatcherConfig,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._channels = channels
        self._config = config
        self._random_fraction = random_fraction
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._wake = asyncio.Event()
        self.stats = DispatcherStats()

    async def run(self) -> None:
        """Dispatch until cancelled; a cancellation lets the round in flight finish (within the shutdown grace)."""
        listener: asyncpg.Connection | None = None
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
        if not claimed:
            return 0
        results = await asyncio.gather(*(self._attempt(d) for d in claimed))
        await self._record(list(zip(claimed, results, strict=True)))
        self.stats.rounds += 1
        return len(claimed)

    async def _attempt(self, delivery: Delivery) -> Accepted | SendFailed:
        channel = self._channels.get(delivery.channel or "")
        if channel is None or delivery.address is None:
            return SendFailed(f"channel not configured: {delivery.channel}", transient=False)
        message = Message(delivery.id, delivery.address, domain.SUBJECTS[delivery.purpose], delivery.body)
        async with self._semaphore:
            try:
                return await channel.send(message)
            except SendFailed as exc:
                return exc
            except Exception as exc:
                # A bug in a channel must not stop the other messages; retrying is harmless, failing would be final.
                log.exception("channel error", delivery_id=str(delivery.id), channel=channel.name)
                return SendFailed(f"unexpected error: {type(exc).__name__}", transient=True)

    async def _record(self, outcomes: list[tuple[Delivery, Accepted | SendFailed]]) -> None:
        sent: list[tuple[object, int, str | None]] = []
        failed: list[tuple[object, int, str]] = []
        retries: list[tuple[object, int, float, str]] = []
        for delivery, result in outcomes:
            key = (delivery.id, delivery.attempts)
            if isinstance(result, Accepted):
                sent.append((*key, result.provider_message_id))
                continue
            delay = None
            if result.transient:
                delay = domain.retry_delay(
                    delivery.attempts, self._config.retry, self._random_fraction(), result.retry_after_s
                )
            if delay is not None:
                retries.append((*key, delay, result.cause))
            elif result.transient:
                failed.append((*key, f"{result.cause} (gave up after {delivery.attempts} attempts)"))
            else:
                failed.append((*key, result.cause))
        # Retried on a database hiccup: the messages are out, losing the record would mean sending them again.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential_jitter(multiplier=0.2, max=5),
            stop=stop_after_attempt(5),
            reraise=True,
        ):
            with attempt:
                async with self._pool.acquire() as conn, conn.transaction():
                    done = await repository.mark_sent(conn, sent)  # type: ignore[arg-type]
                    given_up = await repository.mark_failed(conn, failed)  # type: ignore[arg-type]
                    await repository.reschedule(conn, retries)  # type: ignore[arg-type]
                    events = [sent_event(d) for d in done] + [failed_event(d) for d in given_up]
                    await outbox.add_events(conn, events, self._config.topic_prefix)
        self.stats.sent += len(done)
        self.stats.failed += len(given_up)
        self.stats.rescheduled += len(retries)
        for d in given_up:
            log.info("delivery failed", delivery_id=str(d.id), nomination_id=str(d.nomination_id), cause=d.last_error)
        log.info("dispatched", sent=len(done), failed=len(given_up), rescheduled=len(retries))

    async def _listen(self, listener: asyncpg.Connection | None) -> asyncpg.Connection | None:
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
