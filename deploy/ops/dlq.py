"""``payung dlq``: read and replay a dead-letter topic.

A dead letter (shared/consumer.py) is a raw copy of the record a consumer could not process, on ``<topic>.dlq``,
with the reason in its headers. ``list`` prints those headers and the value's size, never the value (it may hold a
NIK or a name). ``replay`` republishes the original key and value to the original topic with an idempotent producer
and the header ``x-replayed-from: <dlq topic>/<partition>/<offset>``; every consumer's inbox drops what it already
processed, so the consumers that had succeeded see a duplicate and ignore it. The record's own headers, which the
dead letter carries before the x-dlq-* ones, are sent along (a signature header survives a replay).

What was replayed is remembered in Kafka itself, in the consumer group ``<prefix>payung-dlq-replay`` on the
dead-letter topic: the committed offset is the position below which every dead letter has been replayed, and the
commit's metadata lists the replayed offsets above it (``12,15-18``), which a filtered replay (``--error-type``,
``--group``) leaves behind the ones it skipped. The offsets are committed after the broker acknowledged the
republished records: a crash between the two means the next replay sends those again, which the inboxes absorb.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.native import kafka
from deploy.native.config import StackConfig
from shared import outbox, topics

T = TypeVar("T")
REPLAY_GROUP = "payung-dlq-replay"
REPLAYED_FROM = "x-replayed-from"
# Kafka refuses commit metadata over offset.metadata.max.bytes (4096 by default).
MAX_METADATA = 4000
# The headers shared/consumer.py adds to a dead letter; any other header is the original record's own.
DLQ_HEADERS = frozenset(
    {
        "x-dlq-reason",
        "x-dlq-error-type",
        "x-dlq-truncated",
        "x-original-topic",
        "x-original-partition",
        "x-original-offset",
        "x-consumer-group",
        "x-failed-at",
        REPLAYED_FROM,
    }
)


@dataclass(frozen=True)
class Target:
    """Where the dead letters are: a bootstrap address, the topic prefix and aiokafka's security arguments."""

    bootstrap: str
    prefix: str = ""
    options: dict[str, Any] = field(default_factory=dict)


def target(bootstrap: str | None = None, prefix: str | None = None) -> Target:
    """The local stack's Kafka (``PAYUNG_KAFKA_PORT``…, its admin principal when ``PAYUNG_KAFKA_SASL=1``), or a
    remote cluster given by ``bootstrap`` with the services' ``PAYUNG_KAFKA_SECURITY_PROTOCOL``/``USERNAME``/…"""
    cfg = StackConfig()
    prefix = cfg.topic_prefix if prefix is None else prefix
    if bootstrap:
        from shared.settings import KafkaClientSettings

        return Target(bootstrap, prefix, KafkaClientSettings().kafka_client_options())
    return Target(cfg.kafka_bootstrap, prefix, kafka.client_options(cfg))


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    raw_headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the failed record itself carried, in order."""
        return [(k, v) for k, v in self.raw_headers if k not in DLQ_HEADERS]

    @property
    def where(self) -> str:
        return f"{self.dlq_topic}/{self.partition}/{self.offset}"

    @property
    def event_id(self) -> str:
        """The envelope's event id when the value is one (not personal data; the inbox is keyed by it)."""
        try:
            value = json.loads(self.value or b"")
        except ValueError:
            return ""
        return str(value.get("event_id", "")) if isinstance(value, dict) else ""

    def matches(self, group: str | None, error_type: str | None) -> bool:
        return (group is None or self.header("x-consumer-group") == group) and (
            error_type is None or self.header("x-dlq-error-type") == error_type
        )


@dataclass
class Ledger:
    """What was replayed on one dead-letter partition: everything below ``committed``, plus ``above``."""

    committed: int = 0
    above: set[int] = field(default_factory=set)

    def replayed(self, offset: int) -> bool:
        return offset < self.committed or offset in self.above

    def advance(self, record_offsets: Sequence[int]) -> None:
        """Move ``committed`` past the replayed records at its head (records, not offsets: gaps are skipped)."""
        for offset in sorted(record_offsets):
            if offset < self.committed:
                continue
            if offset not in self.above:
                break
            self.committed = offset + 1
        self.above = {o for o in self.above if o >= self.committed}

    def metadata(self) -> str:
        return encode_offsets(self.above)


def encode_offsets(offsets: Iterable[int]) -> str:
    """``{12, 15, 16, 17}`` -> ``"12,15-17"``."""
    ranges: list[list[int]] = []
    for o in sorted(offsets):
        if ranges and o == ranges[-1][1] + 1:
            ranges[-1][1] = o
        else:
            ranges.append([o, o])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)


def decode_offsets(text: str) -> set[int]:
    result: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        result.update(range(int(first), int(last or first) + 1))
    return result


async def read(t: Target, dlq_topic: str, partitions: Sequence[int]) -> list[DeadLetter]:
    """Every dead letter retained on ``dlq_topic``, oldest first (up to the end offsets when called)."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=t.bootstrap, enable_auto_commit=False, client_id="payung-dlq", **t.options
    )
    await reader.start()
    try:
        tps = [TopicPartition(dlq_topic, p) for p in partitions]
        reader.assign(tps)
        end = await reader.end_offsets(tps)
        for tp, offset in (await reader.beginning_offsets(tps)).items():
            reader.seek(tp, offset)  # explicit: seek_to_beginning() is lazy and position() may not see it
        letters: list[DeadLetter] = []
        pending = {tp for tp in tps if await reader.position(tp) < end[tp]}
        while pending:
            batch = await reader.getmany(*pending, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset < end[tp]:
                        raw = tuple((k, bytes(v or b"")) for k, v in r.headers)
                        headers = {k: v.decode("utf-8", "replace") for k, v in raw}
                        letters.append(DeadLetter(dlq_topic, r.partition, r.offset, r.key, r.value, headers, raw))
            pending = {tp for tp in pending if await reader.position(tp) < end[tp]}
        return sorted(letters, key=lambda d: (d.partition, d.offset))
    finally:
        await reader.stop()


async def describe_dlq(t: Target, dlq_topic: str) -> tuple[list[int], dict[int, Ledger]]:
    """The dead-letter topic's partitions, and the replay group's position and metadata on each."""
    admin = AIOKafkaAdminClient(bootstrap_servers=t.bootstrap, client_id="payung-dlq", **t.options)
    await admin.start()
    try:
        [described] = await admin.describe_topics([dlq_topic])
        if described["error_code"] or not described["partitions"]:
            raise typer.BadParameter(f"no topic {dlq_topic!r} on {t.bootstrap}", param_hint="TOPIC")
        committed = await _retrying(lambda: admin.list_consumer_group_offsets(t.prefix + REPLAY_GROUP))
    finally:
        await admin.close()
    books = {
        tp.partition: Ledger(max(meta.offset, 0), decode_offsets(meta.metadata or ""))
        for tp, meta in committed.items()
        if tp.topic == dlq_topic
    }
    return sorted(p["partition"] for p in described["partitions"]), books


async def load(t: Target, dlq_topic: str) -> tuple[list[DeadLetter], dict[int, Ledger]]:
    """The dead letters retained on ``dlq_topic`` and what was replayed of them."""
    partitions, books = await describe_dlq(t, dlq_topic)
    return await read(t, dlq_topic, partitions), books


@dataclass
class ReplayResult:
    selected: list[DeadLetter]  # matching the filters and not replayed before
    already: int  # matching the filters but replayed before


async def replay(
    t: Target, topic: str, group: str | None = None, error_type: str | None = None, dry_run: bool = False
) -> ReplayResult:
    """Republish the dead letters of ``topic`` (without prefix) that match and were not replayed before."""
    dlq_topic = t.prefix + topics.dlq(topic)
    letters, books = await load(t, dlq_topic)
    matching = [d for d in letters if d.matches(group, error_type)]
    fresh = [d for d in matching if not books.get(d.partition, Ledger()).replayed(d.offset)]
    result = ReplayResult(fresh, len(matching) - len(fresh))
    if dry_run or not fresh:
        return result
    for d in fresh:
        books.setdefault(d.partition, Ledger()).above.add(d.offset)
    for p, book in books.items():
        book.advance([d.offset for d in letters if d.partition == p])
        if len(book.metadata()) > MAX_METADATA:
            raise typer.BadParameter(
                f"too many scattered replays on {dlq_topic}/{p} to remember: replay without filters, or by "
                "--group/--error-type in the order the dead letters came"
            )
    producer = outbox.new_producer(t.bootstrap, "payung-dlq-replay", **t.options)
    await producer.start()
    try:
        sent = [
            await producer.send(
                # <topic>.dlq holds only <topic>'s records: a header naming another topic is not followed.
                t.prefix + topic,
                value=d.value,
                key=d.key,
                headers=[(REPLAYED_FROM, d.where.encode()), *d.original_headers],
            )
            for d in fresh
        ]
        await asyncio.gather(*sent)  # acknowledged by the broker before the ledger says "replayed"
    finally:
        await producer.stop()
    await _commit(t, dlq_topic, books)
    return result


async def _commit(t: Target, dlq_topic: str, books: dict[int, Ledger]) -> None:
    committer = AIOKafkaConsumer(
        bootstrap_servers=t.bootstrap,
        group_id=t.prefix + REPLAY_GROUP,
        enable_auto_commit=False,
        client_id="payung-dlq-replay",
        **t.options,
    )
    await committer.start()
    try:
        tps = {p: TopicPartition(dlq_topic, p) for p in books}
        committer.assign(list(tps.values()))
        offsets = {tps[p]: (b.committed, b.metadata()) for p, b in books.items()}
        await _retrying(lambda: committer.commit(offsets))
    finally:
        await committer.stop()


async def _retrying(call: Callable[[], Awaitable[T]], within: float = 30) -> T:
    """``call()``, again while Kafka answers with a retriable error (a group coordinator still loading, typically
    on a cluster whose offsets topic is created by this very first group)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.5)


# ------------------------------------------------------------------------------------------------ command line

app = typer.Typer(help="Dead-letter topics: read why events failed, replay them once fixed.", no_args_is_help=True)

Bootstrap = Annotated[
    str | None,
    typer.Option(help="Kafka of a remote cluster (security from PAYUNG_KAFKA_SECURITY_PROTOCOL/USERNAME/PASSWORD)."),
]
Prefix = Annotated[str | None, typer.Option(help="Topic prefix (default: PAYUNG_TOPIC_PREFIX, usually empty).")]
Topic = Annotated[str, typer.Argument(help="The event topic without prefix or .dlq, e.g. nomination.submitted.")]


def _check_topic(topic: str) -> str:
    if topic.endswith(".dlq"):
        topic = topic.removesuffix(".dlq")
    if topic not in topics.EVENT_TOPICS:
        raise typer.BadParameter(f"one of: {', '.join(topics.EVENT_TOPICS)}", param_hint="TOPIC")
    return topic


def describe(d: DeadLetter, replayed: bool) -> list[str]:
    """A dead letter as text: headers and sizes, never the key's or the value's content."""
    h = d.header
    return [
        f"{d.partition}/{d.offset}  {h('x-dlq-error-type') or '?'}  group={h('x-consumer-group') or '?'}  "
        f"failed_at={h('x-failed-at') or '?'}{'  (replayed)' if replayed else ''}",
        f"    original={h('x-original-topic')}/{h('x-original-partition')}/{h('x-original-offset')}  "
        f"value={len(d.value or b'')} bytes  event_id={d.event_id or '-'}",
        f"    reason: {h('x-dlq-reason')}",
        *([f"    truncated: {h('x-dlq-truncated')}"] if h("x-dlq-truncated") else []),
    ]


@app.command("list")
def list_cmd(
    topic: Topic,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, oldest first.")] = 20,
    bootstrap: Bootstrap = None,
    prefix: Prefix = None,
) -> None:
    """Print the dead letters of TOPIC.dlq: why each failed, where it came from (never its content)."""
    t = target(bootstrap, prefix)
    dlq_topic = t.prefix + topics.dlq(_check_topic(topic))
    letters, books = asyncio.run(load(t, dlq_topic))
    counts: dict[str, int] = {}
    for d in letters:
        label = f"{d.header('x-dlq-error-type') or '?'} / {d.header('x-consumer-group') or '?'}"
        counts[label] = counts.get(label, 0) + 1
    typer.echo(f"{dlq_topic}: {len(letters)} dead letters retained (showing {min(limit, len(letters))})")
    for label, count in sorted(counts.items()):
        typer.echo(f"  {count:>6}  {label}")
    for d in letters[:limit]:
        typer.echo("\n".join(describe(d, books.get(d.partition, Ledger()).replayed(d.offset))))


@app.command("replay")
def replay_cmd(
    topic: Topic,
    group: Annotated[str | None, typer.Option(help="Only those of this x-consumer-group.")] = None,
    error_type: Annotated[str | None, typer.Option(help="Only those of this x-dlq-error-type.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be replayed; send nothing.")] = False,
    bootstrap: Bootstrap = None,
    prefix: Prefix = None,
) -> None:
    """Republish TOPIC.dlq's dead letters (original key and value) to TOPIC, each at most once."""
    t, topic = target(bootstrap, prefix), _check_topic(topic)
    result = asyncio.run(replay(t, topic, group, error_type, dry_run))
    for d in result.selected:
        typer.echo(f"{'would replay' if dry_run else 'replayed'} {d.where} -> {t.prefix}{topic}")
    verb = "would replay" if dry_run else "replayed"
    typer.echo(f"{verb}: {len(result.selected)}, replayed before: {result.already}")
