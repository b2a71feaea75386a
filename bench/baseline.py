"""The infrastructure's own ceiling on this machine: consume from Kafka, insert into PostgreSQL, produce to Kafka.

No domain logic, no pydantic, no inbox: one consumer, batches of ``max_records`` (the services' default), one
transaction per batch (``executemany``), an idempotent acks=all producer (the relay's settings), offsets committed
after the batch. The pipeline's throughput is reported as a ratio of this hop's, because absolute figures drift with
whatever else the machine does.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import asyncpg
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.probe import tree_cpu_seconds
from shared import outbox

PARTITIONS = 6  # as the event topics (shared/topics.py)


async def run_baseline(
    bootstrap: str, dsn: str, prefix: str, count: int, value_size: int, max_records: int, infra: dict[str, int]
) -> dict[str, Any]:
    """Push ``count`` records of ``value_size`` bytes through one hop; returns records/s, the timings and the CPU
    the hop cost: this process plus the ``infra`` processes (name -> pid: Kafka, PostgreSQL and its backends)."""
    src, dst = f"{prefix}baseline.in", f"{prefix}baseline.out"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (src, dst)])
    finally:
        await admin.close()
    producer = outbox.new_producer(bootstrap, client_id="bench-baseline")
    await producer.start()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_hop (id uuid PRIMARY KEY, key bytea, value bytea NOT NULL, "
            "at timestamptz NOT NULL DEFAULT now())"
        )
        t0 = time.monotonic()
        futures = []
        for i in range(count):
            value = os.urandom(value_size // 2).hex().encode()
            futures.append(await producer.send(src, value, key=f"k{i}".encode()))
        await asyncio.gather(*futures)
        load_s = time.monotonic() - t0
        procs = [psutil.Process(), *(psutil.Process(pid) for pid in infra.values())]
        cpu_before = sum(tree_cpu_seconds(p) for p in procs)
        hop_s = await _hop(bootstrap, conn, producer, src, dst, f"{prefix}baseline", count, max_records)
        hop_cpu = sum(tree_cpu_seconds(p) for p in procs) - cpu_before
    finally:
        await conn.execute("DROP TABLE IF EXISTS bench_hop")
        await conn.close()
        await producer.stop()
    return {
        "records": count,
        "value_bytes": value_size,
        "max_records": max_records,
        "produce_only_per_s": round(count / load_s, 1),
        "hop_seconds": round(hop_s, 2),
        "hop_per_s": round(count / hop_s, 1),
        # CPU of client + Kafka + PostgreSQL per record and hop: the floor under every service hop of the pipeline
        "hop_cpu_ms_per_record": round(1000 * hop_cpu / count, 3),
    }


async def _hop(
    bootstrap: str,
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer,
    src: str,
    dst: str,
    group: str,
    count: int,
    max_records: int,
) -> float:
    consumer = AIOKafkaConsumer(
        src, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        done, t0 = 0, None
        while done < count:
            batches = await consumer.getmany(timeout_ms=50, max_records=max_records)
            records = [r for recs in batches.values() for r in recs]
            if not records:
                continue
            t0 = t0 or time.monotonic()
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO bench_hop (id, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    [(uuid.uuid4(), r.key, r.value) for r in records],
                )
            futures = [await producer.send(dst, r.value, key=r.key) for r in records]
            await asyncio.gather(*futures)
            await consumer.commit()
            done += len(records)
        return time.monotonic() - (t0 or time.monotonic())
    finally:
        await consumer.stop()
