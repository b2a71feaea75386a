"""One consumer over several topics (``shared.consumer.Consumer`` with ``more``), on real PostgreSQL.

A service that folds every topic with one handler (nomination, notification, reporting) consumes them in one
consumer group: one transaction per fetched batch across topics, each record decoded as its own topic's payload,
each topic's events recorded in the inbox under the topic's own name (what per-topic consumers used), dead letters
sent to the record's own topic's dead-letter topic.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord

from shared import db, outbox, topics
from shared.consumer import Consumer
from shared.contracts import Envelope, IdentityVerified, NominationSubmitted, encode
from shared.topology import Subscription, Topology
from tests import signed
from tests.reporting_events import submitted, verified

pytestmark = pytest.mark.integration

PREFIX = "cg."
SUBMITTED, VERIFIED = PREFIX + topics.NOMINATION_SUBMITTED, PREFIX + topics.IDENTITY_VERIFIED
DESA = "64.08.01.2001"
_offsets = itertools.count()


def record(topic: str, value: bytes, key: bytes = b"person-key-0001") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic, 0, next(_offsets), 0, 0, key, value, None, len(key), len(value), signed.headers(topic, value)
    )


@pytest.fixture
async def pool(create_database: Any, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    dsn = await create_database("consumer_groups")
    await asyncio.to_thread(db.migrate, dsn, tmp_path)  # the shared migrations only: outbox, inbox, audit
    pool = await db.create_pool(dsn, 1, 2)
    yield pool
    await pool.close()


def consumer(pool: asyncpg.Pool, calls: list[list[str]]) -> Consumer[Any]:
    async def handler(conn: asyncpg.Connection, events: Sequence[Envelope[Any]]) -> None:
        assert not conn.is_closed() and conn.is_in_transaction()
        calls.append([e.event_type for e in events])

    return Consumer(
        name="svc.events",
        topic=SUBMITTED,
        payload=NominationSubmitted,
        handler=handler,
        pool=pool,
        inbox_name="svc." + topics.NOMINATION_SUBMITTED,
        more={VERIFIED: (IdentityVerified, "svc." + topics.IDENTITY_VERIFIED)},
    )


async def test_one_batch_over_two_topics_is_one_handler_call_and_a_redelivery_is_a_no_op(pool):
    now = datetime.now(UTC)
    nid = uuid.uuid4()
    first, second = submitted(nid, DESA, "petani", now), verified(nid, DESA, now)
    batch = [record(SUBMITTED, encode(first)), record(VERIFIED, encode(second))]
    calls: list[list[str]] = []
    c = consumer(pool, calls)

    await c.process(batch)
    assert calls == [["NominationSubmitted", "IdentityVerified"]]
    inbox = await pool.fetch("SELECT consumer, event_id FROM inbox ORDER BY consumer")
    assert [(r["consumer"], r["event_id"]) for r in inbox] == [
        ("svc.identity.verified", second.event_id),
        ("svc.nomination.submitted", first.event_id),
    ]

    await c.process(batch)  # Kafka redelivers the batch (say the offset commit was lost)
    assert calls == [["NominationSubmitted", "IdentityVerified"]]
    assert (c.stats.processed, c.stats.duplicates) == (2, 2)
    assert c.topics == [SUBMITTED, VERIFIED]


async def test_each_record_is_read_as_its_own_topics_payload_and_dead_lettered_to_its_own_dlq(pool):
    now = datetime.now(UTC)
    good = verified(uuid.uuid4(), DESA, now)
    misplaced = submitted(uuid.uuid4(), DESA, "nelayan", now)  # a NominationSubmitted on identity.verified
    calls: list[list[str]] = []

    await consumer(pool, calls).process(
        [record(VERIFIED, encode(misplaced)), record(SUBMITTED, b"{not json"), record(VERIFIED, encode(good))]
    )

    assert calls == [["IdentityVerified"]]  # the good event behind two bad ones went through
    rows = await pool.fetch("SELECT topic, headers FROM outbox ORDER BY id")
    headers = [dict(outbox.unpack_headers(r["headers"])) for r in rows]
    reasons = {r["topic"]: h["x-dlq-error-type"] for r, h in zip(rows, headers, strict=True)}
    assert reasons == {topics.dlq(VERIFIED): b"wrong_event_type", topics.dlq(SUBMITTED): b"invalid_json"}
    assert {h["x-consumer-group"] for h in headers} == {b"svc.events"}


def test_a_topology_gives_each_topic_one_group_and_each_group_one_name() -> None:
    """One handler per topic: a topic in two groups of a service, or a group declared twice, is refused."""
    submitted = Subscription("a", (NominationSubmitted,), "a")
    with pytest.raises(ValueError, match="consumed by two groups"):
        Topology("svc", (submitted, Subscription("b", (NominationSubmitted, IdentityVerified), "b")), ())
    with pytest.raises(ValueError, match="declared twice"):
        Topology("svc", (submitted, Subscription("a", (IdentityVerified,), "a")), ())
    both = Topology("svc", (Subscription("g", (NominationSubmitted, IdentityVerified), "g"),), ())
    assert both.group_of(topics.IDENTITY_VERIFIED) == "svc.g" and both.consumed == (
        topics.NOMINATION_SUBMITTED,
        topics.IDENTITY_VERIFIED,
    )
