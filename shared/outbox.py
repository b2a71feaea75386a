"""Transactional outbox: write events with the state change, publish them with a relay.

Nothing publishes to Kafka directly. A handler calls ``add_events`` inside its transaction; on commit a NOTIFY wakes
the relay, which publishes rows in id order through an idempotent producer (acks=all) and deletes them once the
broker acknowledged. A crash between publish and delete republishes those rows: consumers' inboxes make that
harmless. Only one relay per database publishes at a time (a session advisory lock), so per-key order holds even
with several replicas of a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidProducerEpoch, OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId

from shared import db, metrics, signing
from shared.contracts import Envelope, encode
from shared.errors import is_transient
from shared.logs import get_logger

log = get_logger(__name__)

NOTIFY_CHANNEL = "payung_outbox"
_RELAY_LOCK = 0x5041_594E  # "PAYN": one relay per database
# The idempotent producer's state no longer matches the broker's (seen after a broker restart: every later send fails
# with OutOfOrderSequenceNumber). Retrying with the same producer never succeeds; a new producer (new producer id)
# does. The unpublished rows are still in the outbox, so nothing is lost either way.
_PRODUCER_STATE_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


@dataclass(frozen=True)
class OutboxRecord:
    event_id: uuid.UUID
    topic: str
    key: bytes | None
    value: bytes
    event_type: str
    headers: tuple[tuple[str, str], ...] = ()


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


async def add(conn: asyncpg.Connection, records: Iterable[OutboxRecord]) -> None:
    """Queue records for publication, in order, inside the caller's transaction. Duplicate event ids are ignored."""
    rows = [(r.event_id, r.topic, r.key, r.value, [list(h) for h in r.headers], r.event_type) for r in records]
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


async def add_events(conn: asyncpg.Connection, envelopes: Iterable[Envelope[Any]], topic_prefix: str) -> None:
    await add(conn, (envelope_record(e, topic_prefix) for e in envelopes))


async def backlog(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM outbox"))


def new_producer(bootstrap: str, client_id: str, **security: Any) -> AIOKafkaProducer:
    """The idempotent producer (acks=all, no reordering on retry) every relay uses."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
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
    ) -> None:
        """``producer_factory`` makes a replacement when the producer's idempotence state breaks."""
        self._dsn = dsn
        self._producer = producer
        self._producer_factory = producer_factory
        self._needs_new_producer = False
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.published = 0
        self.is_leader = False
        self.last_error: str | None = None

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

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1", self._batch_size
        )
        if not rows:
            return 0
        await self._send(rows)
        await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        self.published += len(rows)
        metrics.count_published(r["topic"] for r in rows)
        return len(rows)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> None:
        futures = []
        for row in rows:
            headers = [(k, v.encode()) for k, v in row["headers"]]
            futures.append(await self._producer.send(row["topic"], row["value"], key=row["key"], headers=headers))
        await asyncio.gather(*futures)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
