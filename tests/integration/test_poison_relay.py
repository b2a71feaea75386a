"""A relay never blocks behind one row, and a stalled consumer or relay says so, on the real Kafka and PostgreSQL.

- Rows the broker refuses for good (larger than the producer may send, larger than the topic accepts, for a topic
  that does not exist) are parked in ``outbox_parked`` with their error and counted; the rows behind them are
  published. Before parking, the relay failed on such a row every few seconds and nothing behind it was sent.
- ``payung outbox parked list|show|replay|drop`` lists them without their content, replays one once its cause is
  fixed (the topic created), drops the rest.
- ``/health/ready`` goes 503 naming the consumer that has failed on one batch longer than its stall setting, and
  the relay that has rows pending and does not advance; before, it said "ok" while nothing moved.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from deploy.cli import app as cli
from services.nomination.app import create
from services.nomination.settings import NominationSettings
from shared import db, outbox, topics
from shared.consumer import Consumer
from shared.contracts import IdentityVerified, encode
from shared.errors import TransientError
from shared.service import Runtime
from tests import signed
from tests.infra import Infra
from tests.reporting_events import verified
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SECRET = b"Siti Aminah 6408014501900001"  # stands for personal data in a value: never printed


@pytest.fixture
async def dsn(create_database: Any, tmp_path: Any) -> str:
    dsn = await create_database("poison_relay")
    await asyncio.to_thread(db.migrate, dsn, tmp_path)  # the shared migrations: outbox, inbox, parked
    return dsn


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, 1, 3)
    yield pool
    await pool.close()


def row(topic: str, value: bytes) -> outbox.OutboxRecord:
    return outbox.OutboxRecord(uuid.uuid4(), topic, b"person-key-0001", value, "Test", (("event_type", "Test"),))


async def values_on(bootstrap: str, topic: str) -> list[bytes]:
    """Every value on ``topic`` (read until a poll brings nothing more)."""
    reader = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        found: list[bytes] = []
        while batch := await reader.getmany(timeout_ms=3000):
            found += [r.value for records in batch.values() for r in records]
        return found
    finally:
        await reader.stop()


def parked_total(topic: str, error_type: str) -> float:
    return REGISTRY.get_sample_value("payung_outbox_parked_total", {"topic": topic, "error_type": error_type}) or 0


async def test_relay_parks_refused_rows_and_publishes_the_rows_behind_them(infra: Infra, dsn, pool, topic_prefix):
    bootstrap = infra.kafka_bootstrap
    await topics.ensure_topics(bootstrap, topic_prefix)
    topic, missing, small = (topic_prefix + name for name in (topics.NOTIFICATION_SENT, "nowhere", "small"))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # a topic whose broker-side limit is smaller than declared: the broker itself refuses
        await admin.create_topics([NewTopic(small, 1, 1, topic_configs={"max.message.bytes": "2048"})])
    finally:
        await admin.close()
    limit = topics.max_message_bytes(topic)
    rows = [
        row(topic, b"first"),
        row(topic, SECRET + b"x" * (topics.MAX_REQUEST_BYTES + 10)),  # larger than any request may be
        row(topic, SECRET + b"y" * (limit - 100)),  # fits the value limit, not with its key, headers and framing
        row(missing, b"to a topic that does not exist"),
        row(small, SECRET + b"z" * 5000),  # refused by the broker
        row(topic, b"last"),
    ]
    async with pool.acquire() as conn:
        await outbox.add(conn, rows)

    def make_producer() -> AIOKafkaProducer:
        # the service's producer, with a short request timeout: it waits that long for a missing topic's metadata
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
            max_request_size=topics.MAX_REQUEST_BYTES, request_timeout_ms=3000,
        )  # fmt: skip

    producer = make_producer()
    await producer.start()
    relay = outbox.OutboxRelay(dsn, producer, poll_interval_s=0.2, producer_factory=make_producer)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _drained(pool), "the outbox to drain past the refused rows", timeout=60)
    finally:
        await relay.stop()
        await task
        await relay.producer.stop()

    # at least once: a batch retried after a transient failure (a topic just created has no leader yet) or the
    # broker's refusal publishes again what had gone through already
    assert set(await values_on(bootstrap, topic)) == {b"first", b"last"}
    parked = await pool.fetch("SELECT outbox_id, topic, error, value FROM outbox_parked ORDER BY id")
    assert sorted((p["topic"], p["error"].split(":")[0]) for p in parked) == sorted(
        [
            (topic, "MessageSizeTooLargeError"),
            (topic, "MessageSizeTooLargeError"),
            (missing, "UnknownTopicOrPartitionError"),
            (small, "MessageSizeTooLargeError"),
        ]
    )
    assert sorted(p["value"] for p in parked) == sorted(r.value for r in rows[1:5])
    assert relay.parked == 4
    assert parked_total(topic, "MessageSizeTooLargeError") >= 2
    assert parked_total(missing, "UnknownTopicOrPartitionError") >= 1

    # The operator: list (no content), show, then create the topic and replay that row; drop the two others.
    runner = CliRunner()
    db_opt = ["--database-url", dsn]
    listed = await asyncio.to_thread(runner.invoke, cli, ["outbox", "parked", "list", "nomination", *db_opt])
    assert listed.exit_code == 0, listed.output
    assert "4 parked outbox rows" in listed.output and "UnknownTopicOrPartitionError" in listed.output
    assert "Siti" not in listed.output and "6408014501900001" not in listed.output
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM outbox_parked WHERE topic = $1", missing)]
    others = [r["id"] for r in await pool.fetch("SELECT id FROM outbox_parked WHERE topic <> $1", missing)]
    show = ["outbox", "parked", "show", "nomination", str(ids[0]), *db_opt]
    shown = await asyncio.to_thread(runner.invoke, cli, show)
    assert shown.exit_code == 0 and missing in shown.output and "headers=event_type" in shown.output, shown.output

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(missing, 1, 1)])
    finally:
        await admin.close()
    replay = ["outbox", "parked", "replay", "nomination", str(ids[0]), *db_opt]
    replayed = await asyncio.to_thread(runner.invoke, cli, replay)
    assert replayed.exit_code == 0 and "replayed: 1 of 1" in replayed.output, replayed.output
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
    drop = ["outbox", "parked", "drop", "nomination", *map(str, others), "--yes", *db_opt]
    dropped = await asyncio.to_thread(runner.invoke, cli, drop)
    assert dropped.exit_code == 0 and "dropped: 3" in dropped.output, dropped.output
    assert await outbox.parked_count(pool) == 0

    producer = outbox.new_producer(bootstrap, "poison-test")
    await producer.start()
    relay = outbox.OutboxRelay(dsn, producer, poll_interval_s=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _drained(pool), "the replayed row to be published")
        assert await values_on(bootstrap, missing) == [b"to a topic that does not exist"]
    finally:
        await relay.stop()
        await task
        await producer.stop()


async def _drained(pool: asyncpg.Pool) -> bool:
    return await outbox.backlog(pool) == 0


# ------------------------------------------------------------------------------------------------ readiness


@pytest.fixture
async def ready_app(infra: Infra, dsn: str, pool: asyncpg.Pool) -> AsyncIterator[tuple[Any, Runtime]]:
    settings = NominationSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        person_key_secret="stall-secret-0123456789",
        relay_stall_seconds=0.5,
    )
    broker = KafkaBroker(infra.kafka_bootstrap, logger=None)
    await broker.connect()
    producer = outbox.new_producer(infra.kafka_bootstrap, "stall-test")
    relay = outbox.OutboxRelay(dsn, producer, poll_interval_s=0.2, send_timeout_s=1)
    app = create(settings)
    app.state.runtime = rt = Runtime(settings=settings, pool=pool, relay=relay, broker=broker)
    try:
        yield app, rt
    finally:
        await broker.stop()
        await producer.stop()  # never started, but an unclosed producer warns when collected


async def ready(app: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client:
        return await client.get("/health/ready")


async def test_a_consumer_failing_on_one_batch_past_its_stall_setting_is_not_ready(ready_app, pool) -> None:
    app, rt = ready_app
    outage = {"on": True}

    async def handler(_conn: asyncpg.Connection, _events: Sequence[Any]) -> None:
        if outage["on"]:
            raise TransientError("the civil registry does not answer")

    name = f"stall-{uuid.uuid4().hex[:6]}"
    consumer = Consumer(
        name=name, topic="s.identity.verified", payload=IdentityVerified, handler=handler, pool=pool,
        max_attempts=2, stall_after_s=0.5,
    )  # fmt: skip
    rt.consumers.append(consumer)
    value = encode(verified(uuid.uuid4(), "64.08.01.2001", datetime.now(UTC)))
    signature = tuple(signed.headers("s.identity.verified", value))
    batch = [ConsumerRecord("s.identity.verified", 0, 0, 0, 0, b"k" * 16, value, None, 16, len(value), signature)]
    assert (await ready(app)).status_code == 200

    async def redelivered_and_stalled() -> httpx.Response | None:
        with pytest.raises(TransientError):
            await consumer.process(batch)  # Kafka redelivers a nacked batch: the same failure again
        response = await ready(app)
        return response if response.status_code == 503 else None

    response = await wait_for(redelivered_and_stalled, "readiness to report the stalled consumer", timeout=30)
    assert name in response.json()["stalled"] and "same batch" in response.json()["stalled"][name]
    assert REGISTRY.get_sample_value("payung_consumer_stalled", {"consumer": name}) == 1

    outage["on"] = False
    await consumer.process(batch)
    assert (await ready(app)).status_code == 200
    assert REGISTRY.get_sample_value("payung_consumer_stalled", {"consumer": name}) == 0


async def test_a_relay_with_rows_pending_that_does_not_advance_is_not_ready(ready_app, pool) -> None:
    app, rt = ready_app
    async with pool.acquire() as conn:
        await outbox.add(conn, [row("s.notification.sent", b"waiting")])
    # The relay's producer is closed (as broken as one can be): every send fails, the relay retries the batch and
    # never advances.
    await rt.relay.producer.start()
    await rt.relay.producer.stop()
    task = asyncio.create_task(rt.relay.run())
    try:

        async def not_ready() -> httpx.Response | None:
            response = await ready(app)
            return response if response.status_code == 503 and "relay" in response.json().get("stalled", {}) else None

        response = await wait_for(not_ready, "readiness to report the stalled relay", timeout=30)
        assert "1 rows pending" in response.json()["stalled"]["relay"]
        assert REGISTRY.get_sample_value("payung_relay_stalled") == 1
    finally:
        await rt.relay.stop()
        await task
