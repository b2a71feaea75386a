"""Transactional outbox: write events with the state change, publish them with a relay.

Nothing publishes to Kafka directly. A handler calls ``add_events`` inside its transaction; on commit a NOTIFY wakes
the relay, which publishes rows in id order through an idempotent producer (acks=all) and deletes them once the
broker acknowledged. A crash between publish and delete republishes those rows: consumers' inboxes make that
harmless. Only one relay per database publishes at a time (a session advisory lock), so per-key order holds even
with several replicas of a service.

A row the broker refuses for good (too large, unknown topic, not authorised, invalid record: ``PERMANENT_SEND_ERRORS``)
is first sent again on its own (a refused batch fails every record in it), and if it fails alone it is moved to
``outbox_parked`` with its error, counted (``payung_outbox_parked_total``) and the rows behind it are published.
``./payung outbox parked ...`` (deploy/ops/parked.py) lists, replays or drops parked rows. Transient errors (broker
away, no leader, timeouts) never park: the batch is retried.

Headers are stored as bytes (``pack_headers``): a header value can be anything a Kafka record may carry, where a
jsonb column refuses ``\u0000``.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidProducerEpoch,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    RecordListTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
)

from shared import db, metrics, signing, topics
from shared.contracts import Envelope, encode
from shared.db import Conn
from shared.errors import is_transient, safe_text
from shared.logs import get_logger

log = get_logger(__name__)

NOTIFY_CHANNEL = "payung_outbox"
_RELAY_LOCK = 0x5041_594E  # "PAYN": one relay per database
# The idempotent producer's state no longer matches the broker's (seen after a broker restart: every later send fails
# with OutOfOrderSequenceNumber). Retrying with the same producer never succeeds; a new producer (new producer id)
# does. The unpublished rows are still in the outbox, so nothing is lost either way.
_PRODUCER_STATE_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)
# Refusals of one record that no retry can change. UnknownTopicOrPartition is "retriable" for Kafka (metadata may
# lag a creation), but the producer raises it only after waiting request_timeout_ms for the topic to appear, and
# topics are declared, never auto-created: a row for a topic that does not exist waits aside, not in front.
PERMANENT_SEND_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    CorruptRecordException,
    InvalidTimestampError,
)
_PARKED_ERROR_MAX = 500


@dataclass(frozen=True)
class OutboxRecord:
    event_id: uuid.UUID
    topic: str
    key: bytes | None
    value: bytes
    event_type: str
    headers: tuple[tuple[str, str | bytes], ...] = ()


def pack_headers(headers: Iterable[tuple[str, str | bytes | None]]) -> bytes:
    """Kafka headers as bytes for the ``headers bytea`` column: per header, a 4-byte length and the key's UTF-8,
    a 4-byte length and the value. Total: any key (unpaired surrogates escaped) and any value fit."""
    out = bytearray()
    for key, value in headers:
        k = key.encode("utf-8", "backslashreplace")
        v = value.encode("utf-8", "backslashreplace") if isinstance(value, str) else bytes(value or b"")
        out += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
    return bytes(out)


def unpack_headers(data: bytes | None) -> list[tuple[str, bytes]]:
    """The inverse of ``pack_headers``; keys are decoded leniently (they are ours, or a record's own)."""
    headers: list[tuple[str, bytes]] = []
    view, pos = bytes(data or b""), 0
    while pos + 8 <= len(view):
        (n,) = struct.unpack_from(">I", view, pos)
        key, pos = view[pos + 4 : pos + 4 + n], pos + 4 + n
        (m,) = struct.unpack_from(">I", view, pos) if pos + 4 <= len(view) else (0,)
        value, pos = view[pos + 4 : pos + 4 + m], pos + 4 + m
        headers.append((key.decode("utf-8", "replace"), value))
    return headers


def envelope_record(envelope: Envelope[Any], topic_prefix: str = "") -> OutboxRecord:
    """The outbox row of a domain event: its payload's topic, keyed by the person key, signed by its producer."""
    topic, value = topic_prefix + envelope.payload.topic, encode(envelope)
    return OutboxRecord(
        event_id=envelope.event_id,
        topic=topic,
        key=envelope.person_key.encode(),
        value=value,
        event_type=envelope.event_type,
        headers=(
            ("event_type", envelope.event_type),
            ("schema_version", str(envelope.schema_version)),
            *signing.sign_headers(envelope.producer, topic, value),
        ),
    )


async def add(conn: Conn, records: Iterable[OutboxRecord]) -> None:
    """Queue records for publication, in order, inside the caller's transaction. Duplicate event ids are ignored."""
    rows = [(r.event_id, r.topic, r.key, r.value, pack_headers(r.headers), r.event_type) for r in records]
    if not rows:
        return
    await conn.executemany(
        """
        INSERT INTO outbox (event_id, topic, key, value, headers, event_type)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING
        """,
        rows,
    )
    await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


async def add_events(conn: Conn, envelopes: Iterable[Envelope[Any]], topic_prefix: str) -> None:
    await add(conn, (envelope_record(e, topic_prefix) for e in envelopes))


async def backlog(conn: Conn | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox"))


async def parked_count(conn: Conn | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox_parked"))


_PARKED_COLUMNS = "id, outbox_id, event_id, topic, key, value, headers, event_type, created_at, parked_at, error"


async def list_parked(conn: Conn, limit: int = 100) -> list[asyncpg.Record]:
    """Parked rows, oldest first."""
    return list(await conn.fetch(f"SELECT {_PARKED_COLUMNS} FROM outbox_parked ORDER BY id LIMIT $1", limit))  # noqa: S608


async def get_parked(conn: Conn, parked_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_PARKED_COLUMNS} FROM outbox_parked WHERE id = $1", parked_id)  # noqa: S608


async def replay_parked(conn: Conn, ids: Sequence[int]) -> int:
    """Move parked rows back into the outbox (at its end: a replay comes after what was published meanwhile);
    returns how many. Fix the cause first (a topic created, a limit raised), or the row is parked again."""
    async with conn.transaction():
        moved = await conn.fetch(
            """
            WITH moved AS (DELETE FROM outbox_parked WHERE id = ANY($1::bigint[]) RETURNING *)
            INSERT INTO outbox (event_id, topic, key, value, headers, event_type, created_at)
            SELECT event_id, topic, key, value, headers, event_type, created_at FROM moved ORDER BY id
            ON CONFLICT (event_id) DO NOTHING RETURNING id
            """,
            list(ids),
        )
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return len(moved)


async def drop_parked(conn: Conn, ids: Sequence[int]) -> int:
    """Delete parked rows for good; returns how many."""
    rows = await conn.fetch("DELETE FROM outbox_parked WHERE id = ANY($1::bigint[]) RETURNING id", list(ids))
    return len(rows)


def new_producer(bootstrap: str, client_id: str, **security: Any) -> AIOKafkaProducer:
    """The idempotent producer (acks=all, no reordering on retry) every relay uses."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        # a dead letter of the largest record an event topic accepts must fit (shared/topics.py)
        max_request_size=topics.MAX_REQUEST_BYTES,
        request_timeout_ms=30_000,
        **security,
    )


class OutboxRelay:
    """Publishes a service's outbox to Kafka until stopped."""

    def __init__(
        self,
        dsn: str,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 1000,
        poll_interval_s: float = 1.0,
        producer_factory: Callable[[], AIOKafkaProducer] | None = None,
        send_timeout_s: float = 60.0,
    ) -> None:
        """``producer_factory`` makes a replacement when the producer's idempotence state breaks;
        ``send_timeout_s`` bounds one batch's wait for the broker (longer than the producer's own request
        timeout: it only matters when the producer itself is stuck)."""
        self._dsn = dsn
        self._producer = producer
        self._producer_factory = producer_factory
        self._needs_new_producer = False
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._send_timeout_s = send_timeout_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.published = 0
        self.parked = 0
        self.is_leader = False
        self.last_error: str | None = None
        # monotonic time the relay last saw its outbox drained or published a batch (``stalled_for``)
        self.last_progress_at = time.monotonic()

    async def run(self) -> None:
        """Loop: hold the relay lock, publish what is there, wait for a NOTIFY or the poll interval."""
        delay = 0.2
        while not self._stopping.is_set():
            try:
                await self._run_connected()
                delay = 0.2
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("outbox relay failed", error_type=type(exc).__name__)
                else:
                    log.warning("outbox relay waiting for infrastructure", error_type=type(exc).__name__)
                self.last_error = type(exc).__name__
                self.is_leader = False
                if isinstance(exc, _PRODUCER_STATE_ERRORS) and self._producer_factory is not None:
                    self._needs_new_producer = True
                await self._sleep(delay)
                delay = min(delay * 2, 10.0)

    def stalled_for(self, backlog: int) -> float:
        """Seconds this relay has held the lock with rows pending and published nothing (0 when it is not stalled).
        A replica that does not hold the lock is not the one expected to advance."""
        if backlog <= 0:
            self.last_progress_at = time.monotonic()
            return 0.0
        return time.monotonic() - self.last_progress_at

    @property
    def producer(self) -> AIOKafkaProducer:
        """The producer in use (a replacement after ``_renew_producer``): the owner stops this one at shutdown."""
        return self._producer

    async def _renew_producer(self) -> None:
        """Stop the broken producer and start a new one; raises (and is tried again) while the broker is away."""
        assert self._producer_factory is not None
        log.warning("outbox relay replacing its producer", error=self.last_error)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._producer.stop(), timeout=10)
        self._producer = self._producer_factory()
        await self._producer.start()
        self._needs_new_producer = False

    async def stop(self) -> None:
        """Finish the batch under way, then return (rows not yet published stay in the outbox)."""
        self._stopping.set()
        self._wake.set()

    async def _run_connected(self) -> None:
        if self._needs_new_producer:
            await self._renew_producer()
        conn = await db.connect(self._dsn)
        try:
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            while not self._stopping.is_set():
                self.is_leader = await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LOCK)
                if self.is_leader:
                    break
                self.last_progress_at = time.monotonic()  # another replica's relay publishes: not a stall here
                await self._sleep(self._poll_interval_s)
            while not self._stopping.is_set():
                self._wake.clear()
                sent = await self._publish_batch(conn)
                self.last_error = None
                if sent < self._batch_size:
                    await self._sleep(self._poll_interval_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def _publish_batch(self, conn: Conn) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1", self._batch_size
        )
        if not rows:
            self.last_progress_at = time.monotonic()
            return 0
        refused, failure = await self._send(rows)
        if failure is None:  # a refused batch fails every record in it: try each refused row once on its own
            verdicts = {row["id"]: await self._send_alone(row, exc) for row, exc in refused}
        else:  # the producer is in no state to try again: the rows refused for good are parked on their own error
            verdicts = {row["id"]: _error(exc) for row, exc in refused}
        parked = {i: error for i, error in verdicts.items() if error is not None}
        done = [r["id"] for r in rows] if failure is None else list(parked)
        if done:
            async with conn.transaction():
                if parked:
                    await self._park(conn, parked)
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", done)
        self.parked += len(parked)
        if failure is not None:
            raise failure  # the rest is sent again (a new producer first, when its state broke)
        sent = [r for r in rows if r["id"] not in parked]
        self.published += len(sent)
        self.last_progress_at = time.monotonic()
        metrics.count_published(r["topic"] for r in sent)
        return len(rows)

    async def _send(
        self, rows: Sequence[asyncpg.Record]
    ) -> tuple[list[tuple[asyncpg.Record, BaseException]], BaseException | None]:
        """Send every row; return the rows refused for good with their errors, and the first other failure."""
        async with asyncio.timeout(self._send_timeout_s):  # TimeoutError: transient, the batch is sent again
            results = await self._send_all(rows)
        refused, failure = [], None
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, PERMANENT_SEND_ERRORS):
                refused.append((row, result))
            elif isinstance(result, BaseException) and failure is None:
                failure = result
        return refused, failure

    async def _send_all(self, rows: Sequence[asyncpg.Record]) -> list[Any]:
        futures: list[Any] = []
        refused_topics: dict[str, BaseException] = {}  # a missing topic is waited for once per batch, not per row
        for row in rows:
            try:
                if error := _too_large(row) or refused_topics.get(row["topic"]):
                    raise error
                futures.append(await self._send_row(row))
            except PERMANENT_SEND_ERRORS as exc:  # refused before sending
                if isinstance(exc, _TOPIC_ERRORS):
                    refused_topics[row["topic"]] = exc
                futures.append(_failed(exc))
        return await asyncio.gather(*futures, return_exceptions=True)

    async def _send_row(self, row: asyncpg.Record) -> Any:
        headers = unpack_headers(row["headers"])
        return await self._producer.send(row["topic"], row["value"], key=row["key"], headers=headers)

    async def _send_alone(self, row: asyncpg.Record, first: BaseException) -> str | None:
        """A refused batch fails every record in it: send the row on its own; its error if refused again."""
        try:
            async with asyncio.timeout(self._send_timeout_s):
                await (await self._send_row(row))
        except PERMANENT_SEND_ERRORS as exc:
            return _error(exc)
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, _PRODUCER_STATE_ERRORS):
                raise
            return _error(first)
        return None

    async def _park(self, conn: Conn, parked: dict[int, str]) -> None:
        rows = await conn.fetch(
            """
            INSERT INTO outbox_parked (outbox_id, event_id, topic, key, value, headers, event_type, created_at, error)
            SELECT o.id, o.event_id, o.topic, o.key, o.value, o.headers, o.event_type, o.created_at, p.error
            FROM outbox o JOIN unnest($1::bigint[], $2::text[]) AS p(id, error) ON o.id = p.id
            RETURNING topic, error
            """,
            list(parked),
            list(parked.values()),
        )
        for row in rows:
            error_type = row["error"].split(":", 1)[0]
            metrics.OUTBOX_PARKED_TOTAL.labels(row["topic"], error_type).inc()
            log.error("outbox row parked", topic=row["topic"], error_type=error_type)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)


_TOPIC_ERRORS = (UnknownTopicOrPartitionError, TopicAuthorizationFailedError, InvalidTopicError)
_FRAMING_BYTES = 512  # a record's and its batch's framing around key, value and headers


def _too_large(row: asyncpg.Record) -> BaseException | None:
    """A row larger than its topic's declared limit (shared/topics.py), refused here rather than by the broker: a
    broker's refusal also breaks the idempotent producer's sequence for the records sent after it."""
    size = len(row["value"]) + len(row["key"] or b"") + len(row["headers"] or b"") + _FRAMING_BYTES
    limit = topics.max_message_bytes(row["topic"])
    if size <= limit:
        return None
    error: BaseException = MessageSizeTooLargeError(
        f"{size} bytes for {row['topic']}, whose max.message.bytes is {limit}"
    )
    return error


def _error(exc: BaseException) -> str:
    return safe_text(f"{type(exc).__name__}: {exc}", _PARKED_ERROR_MAX)


def _failed(exc: BaseException) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future
