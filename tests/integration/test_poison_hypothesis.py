"""Generated poison on the real Kafka and PostgreSQL: no record can stop a consumer, and its dead letter is stored,
published and accepted by its dead-letter topic.

Hypothesis builds a valid envelope of a payload type of shared/contracts.py, corrupts ONE thing (any field, at any
depth: NUL, control characters, a string near the topic's size limit, a wrong type, an integer beyond int64, the
field removed; or the record itself: invalid UTF-8 in the value, no value, no key, garbage headers), and sends it
to that payload's topic (signed by its owner where it has headers to carry it: a forgery is another class, see
tests/e2e/test_forgery.py), followed on the same partition by a good event, which must reach the handler within
seconds. The consumer is shared/consumer.py's, the dead letters go through the real relay to the real ``.dlq``
topics; at the end the outbox is empty and nothing was parked.

Short by default (CI); ``PAYUNG_POISON_EXAMPLES=500 ./payung test tests/integration/test_poison_hypothesis.py``
runs the long version.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import types
import typing
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel

from shared import db, outbox, topics, topology
from shared.consumer import Consumer
from shared.contracts import PAYLOADS, Envelope, Payload, decode
from tests import signed
from tests.infra import Infra, unique_prefix
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("PAYUNG_POISON_EXAMPLES", "30"))
HUGE = topics.EVENT_MAX_BYTES - 8 * 1024  # a string that keeps the record just under its topic's limit


# ------------------------------------------------------------------------------------------------ valid events


def sample(annotation: Any) -> Any:
    """A valid JSON value for a contract field's annotation."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)))
    if origin is tuple:
        return [sample(args[0])]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # a hex digest where the contract asks for one (an objection's evidence), the generic sample otherwise
        return {n: "0" * 64 if n == "sha256" else sample(f.annotation) for n, f in annotation.model_fields.items()}
    if annotation is AwareDatetime:  # the issue-15 contracts' timestamps
        return datetime.now(UTC).isoformat()
    return {uuid.UUID: str(uuid.uuid4()), str: "64.08.01.2001", date: "2026-01-05", int: 1, float: 90.0, bool: False}[
        annotation
    ]


def good_event(payload: type[Payload]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": payload.event_type,
        "schema_version": payload.schema_version,
        "occurred_at": datetime.now(UTC).isoformat(),
        "correlation_id": str(uuid.uuid4()),
        "producer": topology.owner(payload.topic),
        "person_key": "p" * 32,
        "payload": sample(payload),
    }


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into an envelope dict: leaves and whole sub-objects alike."""
    paths = [path] if path else []
    if isinstance(value, dict):
        children: Any = value.items()
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return paths
    return paths + [p for k, v in children for p in leaf_paths(v, (*path, k))]


def to_json(event: dict[str, Any]) -> bytes:
    """What a careless producer could send: integers beyond int64, unpaired surrogates as raw bytes."""
    return json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")


BAD_BYTES = [b"\xff", b"\xc3\x28", b"\x00", b"\xed\xa0\x80", b"\xf8\x88", b"\x1b"]


DELETE = object()
field_poison = st.one_of(
    st.just(DELETE),
    st.sampled_from(["\x00", "6408014501900001\x00", "\x1b[31m\x07\x7f\u202e", "\ud800"]),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp"]), min_size=1, max_size=20),
    st.sampled_from([2**63, -(2**63) - 1, 10**30, -1, 0, 1.5e308, True, None, [], {}, [None], {"x": "\x00"}]),
    st.just("x" * HUGE),
)


@dataclass
class Poison:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@st.composite
def poison(draw: st.DrawFn) -> Poison:
    payload = draw(st.sampled_from(PAYLOADS))
    event = good_event(payload)
    key: bytes | None = b"p" * 32
    kind = draw(st.sampled_from(["field", "field", "field", "bytes", "no-value", "no-key", "headers"]))
    headers: list[tuple[str, bytes]] = []
    value: bytes | None
    if kind == "field":
        path = draw(st.sampled_from(leaf_paths(event)))
        bad = draw(field_poison)
        target = event
        for part in path[:-1]:
            target = target[part]
        if bad is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = bad
        value = to_json(event)
    elif kind == "bytes":
        raw = orjson.dumps(event)
        at = draw(st.integers(0, len(raw)))
        value = raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]
    elif kind == "no-value":
        value = None
    else:
        value = orjson.dumps(event)
        if kind == "no-key":
            key = None
        else:
            header = st.tuples(st.text(st.characters(codec="utf-8"), max_size=30), st.binary(max_size=200))
            headers = draw(st.lists(header, min_size=1, max_size=8))
    return Poison(payload.topic, key, value, headers)


# ------------------------------------------------------------------------------------------------ the harness


@dataclass
class Harness:
    prefix: str
    producer: AIOKafkaProducer
    consumer: Consumer[Any]
    seen: set[uuid.UUID]
    pool: asyncpg.Pool
    failures: list[str]


@pytest.fixture(scope="module")
async def harness(infra: Infra, create_database: Any, tmp_path_factory: Any) -> AsyncIterator[Harness]:
    bootstrap, prefix = infra.kafka_bootstrap, unique_prefix("poison")
    await topics.ensure_topics(bootstrap, prefix)
    dsn = await create_database("poison_fuzz")
    await asyncio.to_thread(db.migrate, dsn, tmp_path_factory.mktemp("no-migrations"))
    pool = await db.create_pool(dsn, 1, 4)
    seen: set[uuid.UUID] = set()

    async def handler(_conn: asyncpg.Connection, events: Any) -> None:
        seen.update(e.event_id for e in events)

    routes = {prefix + p.topic: (p, f"fuzz.{p.topic}") for p in PAYLOADS}
    first, *rest = routes
    consumer: Consumer[Any] = Consumer(
        name="fuzz.events", topic=first, payload=routes[first][0], handler=handler, pool=pool,
        inbox_name=routes[first][1], more={t: routes[t] for t in rest},
    )  # fmt: skip
    failures: list[str] = []
    reader = AIOKafkaConsumer(
        *routes, bootstrap_servers=bootstrap, group_id=prefix + "fuzz", auto_offset_reset="earliest",
        enable_auto_commit=False, max_partition_fetch_bytes=topics.MAX_REQUEST_BYTES,
    )  # fmt: skip
    await reader.start()

    async def consume() -> None:
        while True:
            batch = await reader.getmany(timeout_ms=200, max_records=200)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            while True:  # a failed batch is redelivered, as FastStream's NACK_ON_ERROR does: forever if it fails
                try:
                    await consumer.process(records)
                    break
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}"[:300])
                    await asyncio.sleep(0.2)
            await reader.commit()

    def make_producer() -> AIOKafkaProducer:
        return outbox.new_producer(bootstrap, "poison-relay")

    relay_producer = make_producer()
    await relay_producer.start()
    relay = outbox.OutboxRelay(dsn, relay_producer, poll_interval_s=0.2, producer_factory=make_producer)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=topics.MAX_REQUEST_BYTES)
    await producer.start()
    tasks = [asyncio.create_task(consume()), asyncio.create_task(relay.run())]
    try:
        yield Harness(prefix, producer, consumer, seen, pool, failures)
        await wait_for(lambda: _drained(pool), "every dead letter to be published", timeout=60)
        assert await outbox.parked_count(pool) == 0, "a dead letter was refused by its dead-letter topic"
        assert consumer.stats.dead_lettered > 0 and relay.published >= consumer.stats.dead_lettered
        print(f"poison: {consumer.stats.dead_lettered} dead-lettered, {len(seen)} events processed")
    finally:
        await relay.stop()
        tasks[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks)
        await reader.stop()
        await producer.stop()
        await relay.producer.stop()
        await pool.close()


async def _drained(pool: asyncpg.Pool) -> bool:
    return await outbox.backlog(pool) == 0


def test_every_payload_type_has_a_valid_sample() -> None:
    for payload in PAYLOADS:
        assert isinstance(decode(orjson.dumps(good_event(payload)), payload), Envelope)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=poison())
async def test_no_poison_stops_the_consumer(harness: Harness, case: Poison) -> None:
    topic = harness.prefix + case.topic
    await harness.producer.send_and_wait(topic, case.value, key=case.key, headers=case.headers, partition=0)
    payload = next(p for p in PAYLOADS if p.topic == case.topic)
    good = good_event(payload)
    value = orjson.dumps(good)
    await harness.producer.send_and_wait(topic, value, key=b"p" * 32, partition=0, headers=signed.headers(topic, value))
    good_id = uuid.UUID(good["event_id"])

    async def through() -> bool:
        return good_id in harness.seen

    await wait_for(through, "the good event behind the poison to be processed", timeout=20)
    assert not harness.failures, harness.failures[:3]
