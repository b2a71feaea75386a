"""Measurement for the hostile-input suite (bench/hostile.py): what landed, what was dead-lettered, who is stalled.

Nothing here trusts the services' own account: records and dead letters are read from the topics, progress from the
consumer groups' committed offsets, acceptance from the consumers' inboxes, state from each service's database,
messages from the notification database and the local channel's spool.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench import hostile_kafka as hk
from deploy.native import kafka
from deploy.native.config import SERVICES, StackConfig
from shared import topics

TOLD = ("notified", "notification_failed")
# What a forgery tries to change, per service, for the nomination it names (a row count or a status is enough).
FINGERPRINTS = {
    "nomination": "SELECT status || ':' || (SELECT count(*) FROM nomination_history h WHERE h.nomination_id = $1)"
    " FROM nominations WHERE id = $1",
    "verification": "SELECT outcome FROM verifications WHERE nomination_id = $1",
    "enrolment": "SELECT coalesce((SELECT string_agg(status, ',') FROM seats WHERE nomination_id = $1), '') || ':' ||"
    " (SELECT count(*) FROM waitlist WHERE nomination_id = $1)",
    "notification": "SELECT count(*) FROM deliveries WHERE nomination_id = $1",
}


@dataclass(frozen=True)
class Profile:
    baseline: int  # genuine nominations first (real records to copy)
    per_field: int | None  # schema violations per contract field (None: every kind)
    size_cases: int  # near-limit values per topic (of 3)
    replays_per_topic: int
    contradictions: int
    http_random_bodies: int
    webhook_bodies: int
    oversize_bytes: int
    burst: int
    stall_seconds: float


@dataclass
class Run:
    cfg: StackConfig
    profile: Profile
    rng: random.Random
    db: dict[str, str]
    keys: dict[str, str]

    def url(self, service: str) -> str:
        return f"http://{self.cfg.host}:{self.cfg.service_port(service)}"

    def full(self, topic: str) -> str:
        return self.cfg.topic_prefix + topic


# ------------------------------------------------------------------------------------------------ measurement
async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def read_records(cfg: StackConfig, full_topics: list[str]) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the topics, headers included, read from the beginning without a group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=cfg.kafka_bootstrap, enable_auto_commit=False, **kafka.client_options(cfg)
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(t, p) for t in full_topics for p in (consumer.partitions_for_topic(t) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                out += records
        return out
    finally:
        await consumer.stop()


async def committed(cfg: StackConfig, groups: set[str]) -> dict[tuple[str, str, int], int]:
    """(group, topic, partition) -> committed offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, **kafka.client_options(cfg))
    await admin.start()
    try:
        out = {}
        for group in groups:
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items():
                out[(group, tp.topic, tp.partition)] = meta.offset
        return out
    finally:
        await admin.close()


async def wait_consumed(run: Run, attacks: list[hk.Attack], within: float) -> list[dict[str, Any]]:
    """Wait until every consumer group of each attacked topic committed past the attack; the rest are stalls."""
    groups = hk.consumer_groups(run.cfg.topic_prefix)
    wanted: dict[tuple[str, str, int], int] = {}
    for a in attacks:
        if a.offset is None:
            continue
        for _service, group in groups[a.topic]:
            key = (group, run.full(a.topic), a.partition or 0)
            wanted[key] = max(wanted.get(key, -1), a.offset)
    deadline = time.monotonic() + within
    while True:
        offsets = await committed(run.cfg, {g for g, _, _ in wanted})
        behind = {k: v for k, v in wanted.items() if offsets.get(k, -1) <= v}
        if not behind or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return [
        {"group": g.removeprefix(run.cfg.topic_prefix), "topic": t.removeprefix(run.cfg.topic_prefix),
         "partition": p, "committed": offsets.get((g, t, p)), "attack_offset": o}
        for (g, t, p), o in sorted(behind.items())
    ]  # fmt: skip


async def outbox_stuck(run: Run, since: datetime, within: float) -> dict[str, int]:
    """Outbox rows written since ``since`` and still not relayed after ``within`` s, per service (0s left out)."""
    deadline = time.monotonic() + within
    while True:
        stuck = {}
        for name, dsn in run.db.items():
            n = (await fetch(dsn, "SELECT count(*) FROM outbox WHERE created_at >= $1", since))[0][0]
            if n:
                stuck[name] = n
        if not stuck or time.monotonic() > deadline:
            return stuck
        await asyncio.sleep(0.5)


async def readiness(run: Run) -> dict[str, int]:
    out = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for name in SERVICES:
            try:
                out[name] = (await client.get(run.url(name) + "/health/ready")).status_code
            except httpx.HTTPError:
                out[name] = 0
    return out


def stalled_services(stalls: list[dict[str, Any]], stuck: dict[str, int]) -> set[str]:
    return {s["group"].split(".", 1)[0] for s in stalls} | set(stuck)


async def dead_letters(run: Run, attacks: list[hk.Attack]) -> tuple[int, Counter[str], int]:
    """(attacks dead-lettered by every group of their topic, reasons by error type, group-level dead letters)."""
    where: dict[tuple[str | None, int | None, int | None], hk.Attack] = {
        (run.full(a.topic), a.partition, a.offset): a for a in attacks if a.offset is not None
    }
    dlqs = sorted({run.full(topics.dlq(a.topic)) for a in attacks})
    per_attack: dict[int, set[str]] = {}
    reasons: Counter[str] = Counter()
    total = 0
    for r in await read_records(run.cfg, dlqs):
        h = {k: v.decode(errors="replace") for k, v in r.headers}
        try:
            key = (
                h.get("x-original-topic"),
                int(h.get("x-original-partition", "")),
                int(h.get("x-original-offset", "")),
            )
        except ValueError:
            continue
        attack = where.get(key)
        if attack is None:
            continue
        total += 1
        reasons[h.get("x-dlq-error-type", "?")] += 1
        per_attack.setdefault(id(attack), set()).add(h.get("x-consumer-group", "?"))
    groups = hk.consumer_groups("")
    complete = sum(1 for a in attacks if len(per_attack.get(id(a), ())) >= len(groups[a.topic]))
    return complete, reasons, total


async def wait_told(run: Run, ids: list[str], within: float) -> list[str]:
    """Wait until each nomination was told (notified or notification_failed); returns those that were not."""
    deadline = time.monotonic() + within
    while True:
        rows = await fetch(
            run.db["nomination"],
            "SELECT DISTINCT nomination_id::text FROM nomination_history"
            " WHERE stage = ANY($1) AND nomination_id = ANY($2)",
            list(TOLD),
            [uuid.UUID(i) for i in ids],
        )
        missing = sorted(set(ids) - {r[0] for r in rows})
        if not missing or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.5)


async def fingerprints(run: Run, ids: set[uuid.UUID]) -> dict[tuple[str, uuid.UUID], Any]:
    out = {}
    for service, query in FINGERPRINTS.items():
        conn = await asyncpg.connect(run.db[service])
        try:
            for nid in ids:
                out[(service, nid)] = await conn.fetchval(query, nid)
        finally:
            await conn.close()
    return out


async def settle_deliveries(run: Run, since: datetime, within: float) -> None:
    """Give the dispatcher time to send what the attacks queued (no delivery created since ``since`` pending)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        rows = await fetch(
            run.db["notification"],
            "SELECT count(*) FROM deliveries WHERE created_at >= $1 AND status IN ('pending', 'sending')",
            since,
        )
        if not rows[0][0]:
            return
        await asyncio.sleep(0.5)


async def wrongly_sent(run: Run, ids: set[uuid.UUID], since: datetime) -> dict[str, int]:
    """Deliveries for the forged nominations created since the attack began, and the spool lines they wrote."""
    rows = await fetch(
        run.db["notification"],
        "SELECT id::text, status FROM deliveries WHERE nomination_id = ANY($1) AND created_at >= $2",
        list(ids),
        since,
    )
    spool = spool_lines({r["id"] for r in rows}, run.cfg.stack_dir / "messages.jsonl", since)
    return {
        "created": len(rows),
        "sent": sum(r["status"] == "sent" for r in rows),
        "pending": sum(r["status"] in ("pending", "sending") for r in rows),
        "spool_lines": spool,
    }


def spool_lines(delivery_ids: set[str], path: Path, since: datetime) -> int:
    """Lines the local channel's message spool got for these deliveries since ``since`` (the spool outlives runs,
    and delivery ids derive from event ids, which seeded forgeries repeat)."""
    if not path.exists() or not delivery_ids:
        return 0
    n = 0
    for line in path.read_bytes().splitlines():
        try:
            entry = json.loads(line)
            n += entry.get("delivery_id") in delivery_ids and datetime.fromisoformat(entry["at"]) >= since
        except (ValueError, KeyError, TypeError):
            continue
    return n


# ------------------------------------------------------------------------------------------------- writing
async def write(run: Run, attacks: list[hk.Attack]) -> None:
    """Write the attacks as they are (an explicit partition when the attack names none: a seeded choice)."""
    limit = max(hk.size_limit(a.topic) for a in attacks)
    producer = AIOKafkaProducer(
        bootstrap_servers=run.cfg.kafka_bootstrap, max_request_size=limit + 2**16, **kafka.client_options(run.cfg)
    )
    await producer.start()
    try:
        for a in attacks:
            parts = sorted(await producer.partitions_for(run.full(a.topic)))
            a.partition = a.partition if a.partition is not None else run.rng.choice(parts)
            try:
                meta = await producer.send_and_wait(
                    run.full(a.topic), a.value, key=a.key, headers=a.headers or None, partition=a.partition
                )
                a.offset = meta.offset
            except Exception as exc:  # the broker (or the client) refused it: not an attack that landed
                a.refused_by_broker = type(exc).__name__
    finally:
        await producer.stop()
