"""``payung dlq list`` and ``payung dlq replay`` on the real Kafka, with dead letters shaped as shared/consumer.py
writes them: the list shows why and where, never the content; a filtered replay republishes exactly the matching
dead letter's original key and value, once, however often it is run.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from typer.testing import CliRunner

from deploy.cli import app
from deploy.ops import dlq
from shared import topics
from tests.infra import Infra

pytestmark = pytest.mark.integration

TOPIC = topics.NOMINATION_SUBMITTED
SECRET_NAME = "Siti Aminah"  # stands for personal data in a value: must never be printed


def dead_letter_headers(prefix: str, error_type: str, group: str, offset: int) -> list[tuple[str, bytes]]:
    headers = {
        "x-dlq-reason": f"{error_type}: something about field nik",
        "x-dlq-error-type": error_type,
        "x-original-topic": prefix + TOPIC,
        "x-original-partition": "2",
        "x-original-offset": str(offset),
        "x-consumer-group": group,
        "x-failed-at": "2026-11-21T06:00:00+00:00",
        "payung-kid": "nomination-0a1b2c3d",  # the original's signature, kept for the replay
        "payung-sig": "c2lnbmF0dXJl",
    }
    return [(k, v.encode()) for k, v in headers.items()]


async def put_dead_letters(bootstrap: str, prefix: str) -> list[tuple[bytes, bytes]]:
    """Two dead letters of different error types; returns their (key, value)."""
    letters = [
        (
            b"person-key-a",
            json.dumps({"event_id": str(uuid.uuid4()), "nama": SECRET_NAME}).encode(),
            "schema_violation",
        ),
        (b"person-key-b", b'{"not json at all: ' + SECRET_NAME.encode(), "invalid_json"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i, (key, value, error_type) in enumerate(letters):
            headers = dead_letter_headers(prefix, error_type, "verification.nomination.submitted", 40 + i)
            await producer.send_and_wait(prefix + topics.dlq(TOPIC), value=value, key=key, headers=headers)
    finally:
        await producer.stop()
    return [(k, v) for k, v, _ in letters]


async def records_on(bootstrap: str, prefix: str, topic: str) -> list[Any]:
    """Everything on ``topic`` up to its current end offsets."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = {spec.name: spec.partitions for spec in topics.all_topics(prefix)}[topic]
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        reader.assign(tps)
        end = await reader.end_offsets(tps)
        for tp, offset in (await reader.beginning_offsets(tps)).items():
            reader.seek(tp, offset)  # explicit: seek_to_beginning() is lazy and position() may not see it
        found: list[Any] = []
        while [tp for tp in tps if await reader.position(tp) < end[tp]]:
            for batch in (await reader.getmany(timeout_ms=1000)).values():
                found += batch
        return found
    finally:
        await reader.stop()


async def test_list_then_filtered_replay_once(infra: Infra, topic_prefix: str) -> None:
    bootstrap = infra.kafka_bootstrap
    await topics.ensure_topics(bootstrap, topic_prefix)
    (key_a, value_a), _ = await put_dead_letters(bootstrap, topic_prefix)
    options = ["--bootstrap", bootstrap, "--prefix", topic_prefix]
    runner = CliRunner()

    # The CLI runs its own event loop: call it from a thread, outside this test's loop.
    listed = await asyncio.to_thread(runner.invoke, app, ["dlq", "list", TOPIC, *options])
    assert listed.exit_code == 0, listed.output
    assert "2 dead letters retained" in listed.output
    assert "schema_violation" in listed.output and "invalid_json" in listed.output
    assert "group=verification.nomination.submitted" in listed.output
    assert f"original={topic_prefix}{TOPIC}/2/40" in listed.output
    assert f"value={len(value_a)} bytes" in listed.output
    assert SECRET_NAME not in listed.output and "person-key" not in listed.output

    args = ["dlq", "replay", TOPIC, "--error-type", "schema_violation", *options]
    replayed = await asyncio.to_thread(runner.invoke, app, args)
    assert replayed.exit_code == 0, replayed.output
    assert "replayed: 1, replayed before: 0" in replayed.output

    republished = await records_on(bootstrap, topic_prefix, topic_prefix + TOPIC)
    assert [(r.key, r.value) for r in republished] == [(key_a, value_a)]
    dlq_topic = topic_prefix + topics.dlq(TOPIC)
    assert republished[0].headers == (
        (dlq.REPLAYED_FROM, f"{dlq_topic}/0/0".encode()),
        ("payung-kid", b"nomination-0a1b2c3d"),
        ("payung-sig", b"c2lnbmF0dXJl"),
    )

    again = await asyncio.to_thread(runner.invoke, app, args)
    assert again.exit_code == 0, again.output
    assert "replayed: 0, replayed before: 1" in again.output
    assert len(await records_on(bootstrap, topic_prefix, topic_prefix + TOPIC)) == 1

    # The one left behind by the filter is still there to replay, and only it.
    target = dlq.Target(bootstrap, topic_prefix)
    result = await dlq.replay(target, TOPIC, dry_run=True)
    assert [d.header("x-dlq-error-type") for d in result.selected] == ["invalid_json"]
    assert result.already == 1
    listed = await asyncio.to_thread(runner.invoke, app, ["dlq", "list", TOPIC, *options])
    assert listed.output.count("(replayed)") == 1


def test_ledger_keeps_what_a_filter_skipped() -> None:
    book = dlq.Ledger(committed=3, above={5, 6, 9})
    book.advance([3, 4, 5, 6, 7, 9])
    assert (book.committed, book.above) == (3, {5, 6, 9})  # 3 and 4 not replayed: the position stays
    book.above |= {3, 4}
    book.advance([3, 4, 5, 6, 7, 9])
    assert (book.committed, book.metadata()) == (7, "9")
    assert dlq.decode_offsets(dlq.encode_offsets({1, 2, 3, 7, 10, 11})) == {1, 2, 3, 7, 10, 11}
    assert dlq.encode_offsets({1, 2, 3, 7, 10, 11}) == "1-3,7,10-11"
