"""Consuming events reliably: batches, an idempotent inbox, retries with backoff, dead letters.

A ``Consumer`` turns one Kafka batch into one database transaction:

1. every record is decoded into a current-version envelope and its producer and signature are checked
   (shared/signing.py); one that fails (bad JSON, unknown type or version, schema violation, forged) becomes a
   dead-letter row in the outbox, with the reason in its headers;
2. the inbox keeps only event ids this consumer has not processed before (a redelivery is a no-op);
3. the handler applies the new events and returns the events it produced, which go to the outbox (work that must
   not hold the transaction, such as a registry call over HTTP, runs before it opens: ``prepare``);
4. inbox rows, effects and outbox rows commit together, and only then is the batch acknowledged.

Failures of infrastructure (``errors.is_transient``) retry the whole batch with exponential backoff and jitter;
after ``max_attempts`` the batch is nacked (Kafka redelivers it) so nothing is lost while an outage lasts. Any other
exception means some event in the batch can never succeed: the batch is replayed one event per transaction and the
failing events are dead-lettered with the error, while the others are processed.

Dead-lettering is total: whatever a record holds (NUL or invalid UTF-8 anywhere, no key, no value, any size its
topic accepts) and whatever decoding raises, ``_dlq_record`` builds a row that can be stored (bytes, and reasons made
safe and bounded by ``errors.safe_text``) and that its dead-letter topic accepts (shared/topics.py sizes; a copy that
would still not fit is cut, with ``x-dlq-truncated``). A consumer failing on the same batch for longer than
``stall_after_s`` says so (``stalled_for``: readiness and ``payung_consumer_stalled``).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic

import asyncpg
from aiokafka import ConsumerRecord
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from shared import metrics, outbox, signing, topics
from shared.contracts import Envelope, P, decode
from shared.db import Conn
from shared.errors import PoisonMessage, is_transient, safe_text
from shared.logs import get_logger

log = get_logger(__name__)

# A bound event handler (shared/messaging.py, with the service's Deps applied): it applies the batch's new events
# inside the consumer's transaction and returns the events it produced, which the consumer writes to the outbox.
Handler = Callable[[Conn, Sequence[Envelope[P]]], Awaitable[Sequence[Envelope[Any]] | None]]
Prepare = Callable[[Sequence[Envelope[P]]], Awaitable[None]]
_DLQ_NAMESPACE = uuid.UUID("6f1f5a53-6c2b-4b8e-9f0e-5041594e4744")
# Room kept in a dead letter for Kafka's record and batch framing (varints, CRC, timestamps), beside the bytes.
_FRAMING_BYTES = 1024


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    isolated_batches: int = 0  # batches replayed one event at a time after a non-transient failure
    last_batch_at: float | None = None
    failing_since: float | None = None  # wall time of the first failure of the batch not yet committed


@dataclass
class Consumer(Generic[P]):
    """One Kafka consumer group of one service, over one topic or several that share a handler.

    ``name`` is the consumer group (and the metrics label). Several topics (``more``: full topic -> (payload, inbox
    name)) are fetched together and applied in ONE transaction per batch: one inbox insert, one handler call, one
    offset commit, where one consumer per topic would pay each of them per topic and lock the same rows from
    several transactions at once. Each topic keeps its own inbox name (``<service>.<topic>``), so events recorded
    by an earlier per-topic consumer are still recognised as processed.
    """

    name: str
    topic: str  # the (first) full topic name, prefix included
    payload: type[P]
    handler: Handler[P]
    pool: asyncpg.Pool
    max_attempts: int = 8
    inbox_name: str | None = None  # of ``topic``'s events; default: ``name``
    more: Mapping[str, tuple[type[P], str]] = field(default_factory=dict)
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    stall_after_s: float = 300.0  # failing on one batch longer than this is a stall (readiness, metric)
    topic_prefix: str = ""  # of the events the handler returns
    prepare: Prepare[P] | None = None  # called with the batch's decoded events before its transaction opens

    def __post_init__(self) -> None:
        first = (self.payload, self.inbox_name or self.name)
        self._routes: dict[str, tuple[type[P], str]] = {self.topic: first, **self.more}

    @property
    def topics(self) -> list[str]:
        return list(self._routes)

    def _route(self, topic: str) -> tuple[type[P], str]:
        """(payload, inbox name) of a record's topic; a topic not subscribed is read as the first one's."""
        return self._routes.get(topic) or self._routes[self.topic]

    async def process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Process one batch (in partition order) or raise, so the broker redelivers it."""
        started = time.perf_counter()
        metrics.BATCH_EVENTS.labels(self.name).observe(len(records))
        try:
            await self._process(records)
        except Exception:
            self._failing()
            raise
        else:
            self.stats.failing_since = None
        finally:
            metrics.BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    def _failing(self) -> None:
        if self.stats.failing_since is None:
            self.stats.failing_since = time.time()

    def stalled_for(self) -> float:
        """Seconds spent failing on the current batch beyond ``stall_after_s`` (0: not stalled); sets the gauge."""
        since = self.stats.failing_since
        failing = 0.0 if since is None else max(time.time() - since, 0.0)
        stalled = failing if failing > self.stall_after_s else 0.0
        metrics.CONSUMER_STALLED.labels(self.name).set(1 if stalled else 0)
        return stalled

    async def _process(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        good: list[tuple[ConsumerRecord[Any, Any], Envelope[P]]] = []
        poison: list[tuple[ConsumerRecord[Any, Any], PoisonMessage]] = []
        for record in records:
            try:
                envelope = decode(record.value, self._route(record.topic)[0])
                signing.check(record.topic, record.value, record.headers, envelope)  # owner + signature
                good.append((record, envelope))
            except PoisonMessage as exc:
                poison.append((record, exc))
            except Exception as exc:  # any check decoding runs: a record that cannot be read is a dead letter
                poison.append((record, PoisonMessage(f"{type(exc).__name__}: {exc}", "undecodable")))
        await self._prepare(good)
        async for attempt in self._retrying():
            with attempt:
                try:
                    await self._in_one_transaction(good, poison)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    log.warning("batch failed, isolating events", consumer=self.name, error_type=type(exc).__name__)
                    metrics.HANDLER_ERRORS.labels(self.name, "permanent", type(exc).__name__).inc()
                    self.stats.isolated_batches += 1
                    await self._one_by_one(good, poison)
        self.stats.batches += 1
        self.stats.last_batch_at = time.time()

    async def _prepare(self, good: list[tuple[Any, Envelope[P]]]) -> None:
        """Best effort: what ``prepare`` could not do, the handler finds missing and handles (a registry answer
        missing is a pending look-up, retried later)."""
        if self.prepare is None or not good:
            return
        try:
            await self.prepare([env for _, env in good])
        except Exception as exc:
            log.warning("preparing a batch failed", consumer=self.name, error_type=type(exc).__name__)

    async def _apply(self, conn: Conn, envelopes: Sequence[Envelope[P]]) -> None:
        produced = await self.handler(conn, envelopes)
        if produced:
            await outbox.add_events(conn, produced, self.topic_prefix)

    async def _in_one_transaction(self, good: list[Any], poison: list[Any]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self._dead_letter(conn, poison)
            fresh = await self._claim(conn, good)
            if fresh:
                await self._apply(conn, [env for _, env in fresh])
        self._count(fresh, good, poison)

    async def _one_by_one(self, good: list[Any], poison: list[Any]) -> None:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await self._dead_letter(conn, poison)
            self._count([], [], poison)
            for record, envelope in good:
                try:
                    async with conn.transaction():
                        fresh = await self._claim(conn, [(record, envelope)])
                        if fresh:
                            await self._apply(conn, [envelope])
                    self._count(fresh, [(record, envelope)], [])
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    log.exception("event dead-lettered", consumer=self.name, event_id=str(envelope.event_id))
                    failure = (
                        exc
                        if isinstance(exc, PoisonMessage)
                        else PoisonMessage(f"{type(exc).__name__}: {exc}", "handler_error")
                    )
                    # Not claimed in the inbox: once the cause is fixed, a replay from the dead-letter topic must be
                    # processed. A redelivery cannot dead-letter it twice (the dead letter's id is its position).
                    async with conn.transaction():
                        await self._dead_letter(conn, [(record, failure)])
                    self._count([], [], [(record, failure)])

    async def _claim(self, conn: Conn, good: list[tuple[Any, Envelope[P]]]) -> list[tuple[Any, Envelope[P]]]:
        """Record the events in the inbox (each under its topic's inbox name); return the (record, envelope) pairs
        not seen before, in their original order."""
        if not good:
            return []
        names = [self._route(record.topic)[1] for record, _ in good]
        rows = await conn.fetch(
            """
            INSERT INTO inbox (consumer, event_id) SELECT * FROM unnest($1::text[], $2::uuid[])
            ON CONFLICT DO NOTHING RETURNING consumer, event_id
            """,
            names,
            [env.event_id for _, env in good],
        )
        new_ids = {(r["consumer"], r["event_id"]) for r in rows}
        fresh, seen = [], set()
        for name, (record, env) in zip(names, good, strict=True):  # the same event twice in one batch counts once
            if (name, env.event_id) in new_ids and (name, env.event_id) not in seen:
                fresh.append((record, env))
                seen.add((name, env.event_id))
        return fresh

    async def _dead_letter(self, conn: Conn, poison: list[Any]) -> None:
        await outbox.add(conn, (self._dlq_record(record, exc) for record, exc in poison))
        for record, exc in poison:
            log.warning(
                "message dead-lettered",
                consumer=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                error_type=exc.error_type,
            )

    def _dlq_record(self, record: ConsumerRecord[Any, Any], exc: PoisonMessage) -> outbox.OutboxRecord:
        """The dead letter of ``record``: its key, value and headers as they came (its signature too, so that
        ``payung dlq replay`` sends a verifiable event), then the x-dlq-* headers. Cannot fail: every part is bytes
        or text made safe, and a copy too large for its topic is cut to fit."""
        # The id is derived from the record's position, so a redelivered poison message is dead-lettered once.
        where = f"{self.name}/{record.topic}/{record.partition}/{record.offset}"
        dlq_topic = topics.dlq(record.topic)
        ours: tuple[tuple[str, str | bytes], ...] = (
            ("x-dlq-reason", safe_text(getattr(exc, "reason", exc))),
            ("x-dlq-error-type", safe_text(getattr(exc, "error_type", "invalid_message"), 64)),
            ("x-original-topic", safe_text(record.topic, 300)),
            ("x-original-partition", str(record.partition)),
            ("x-original-offset", str(record.offset)),
            ("x-consumer-group", safe_text(self.name, 300)),
            ("x-failed-at", datetime.now(UTC).isoformat()),
        )
        key, value = _bytes(record.key) if record.key is not None else None, _bytes(record.value)
        theirs = tuple((safe_text(k, 1000), _bytes(v)) for k, v in (record.headers or ()))
        room = topics.max_message_bytes(dlq_topic) - _FRAMING_BYTES - _size(ours)
        if len(key or b"") + len(value) + _size(theirs) > room:  # cannot happen with the declared sizes
            note = f"cut to fit {dlq_topic}: value was {len(value)} bytes, key {len(key or b'')}, headers dropped"
            ours += (("x-dlq-truncated", note),)
            key = key[:256] if key is not None else None
            value, theirs = value[: max(room - 512 - len(key or b""), 0)], ()
        return outbox.OutboxRecord(
            event_id=uuid.uuid5(_DLQ_NAMESPACE, where),
            topic=dlq_topic,
            key=key,
            value=value,
            event_type="DeadLetter",
            headers=theirs + ours,  # ours last: a reader taking the last value per name gets ours
        )

    def _count(self, fresh: list[Any], good: list[Any], poison: list[Any]) -> None:
        """Stats and metrics of (record, ...) pairs: processed ones, all decodable ones, dead-lettered ones."""
        self.stats.processed += len(fresh)
        self.stats.duplicates += len(good) - len(fresh)
        self.stats.dead_lettered += len(poison)
        fresh_ids = {id(record) for record, _ in fresh}
        consumed = Counter((r.topic, "processed" if id(r) in fresh_ids else "duplicate") for r, _ in good)
        for (topic, outcome), n in consumed.items():
            metrics.EVENTS_CONSUMED.labels(self.name, topic, outcome).inc(n)
        for topic, n in Counter(r.topic for r, _ in poison).items():
            metrics.DEAD_LETTERS.labels(self.name, topic).inc(n)

    def _retrying(self) -> AsyncRetrying:
        def before_sleep(state: Any) -> None:
            self._failing()
            self.stats.retries += 1
            metrics.RETRIES.labels(self.name).inc()
            metrics.HANDLER_ERRORS.labels(self.name, "transient", type(state.outcome.exception()).__name__).inc()
            log.warning(
                "transient failure, retrying batch",
                consumer=self.name,
                attempt=state.attempt_number,
                error_type=type(state.outcome.exception()).__name__,
            )

        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            wait=wait_exponential_jitter(multiplier=0.2, max=10),
            stop=stop_after_attempt(self.max_attempts),
            before_sleep=before_sleep,
            reraise=True,
        )


def _bytes(data: object) -> bytes:
    """A record part as bytes, whatever a client handed over."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return b"" if data is None else str(data).encode("utf-8", "backslashreplace")


def _size(headers: Sequence[tuple[str, str | bytes]]) -> int:
    return sum(len(k.encode("utf-8", "backslashreplace")) + len(_bytes(v)) + 8 for k, v in headers)
