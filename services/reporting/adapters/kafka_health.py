"""Pipeline health read from Kafka itself: consumer lag per service and dead letters per topic.

Lag is the committed offset of each consumer group against the partition's end offset; groups are named
``<prefix>`` + ``shared.topology.consumer_group``, and the list of who consumes what is ``shared.topology.consumers()``,
so a group that never committed still shows, with everything since the beginning as its lag.

Dead letters are counted from the dead-letter topics' offsets (end minus beginning) rather than by consuming them:
dead-letter records are raw copies, not envelopes, and counting by offsets needs no consumer group, no inbox and no
decoding. The count is "dead letters still retained" (dead-letter topics keep 90 days).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared import topics
from shared.logs import get_logger
from shared.topology import consumer_group

log = get_logger(__name__)


@dataclass(frozen=True)
class Health:
    lag_by_service: dict[str, int] = field(default_factory=dict)
    lag_by_group: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)  # logical topic -> dead letters retained
    error: str | None = None  # set when Kafka could not be read: the figures are then empty, not zero
    read_at: float = 0.0


def group_lag(
    end: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int], beginning: Mapping[TopicPartition, int]
) -> int:
    """Messages not yet consumed: end minus committed, or end minus beginning where nothing was committed."""
    return sum(max(0, offset - committed.get(tp, beginning.get(tp, 0))) for tp, offset in end.items())


class KafkaHealth:
    """Reads lag and dead-letter counts, caching one reading for ``ttl_s`` (the dashboard polls it)."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        consumers: Mapping[str, Sequence[str]],
        ttl_s: float = 5.0,
        client_options: Mapping[str, Any] | None = None,
    ):
        self._bootstrap = bootstrap
        self._options = dict(client_options or {})  # SASL/TLS, as the service's own clients use
        self._prefix = prefix
        self._consumers = consumers
        self._ttl_s = ttl_s
        self._partitions = {spec.name: spec.partitions for spec in topics.all_topics(prefix)}
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._cached: Health | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap, client_id="reporting-health", **self._options
        )
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, client_id="reporting-health", **self._options
        )
        try:
            await self._admin.start()
            await self._offsets.start()
        except BaseException:  # a client made and never stopped leaks (aiokafka warns when it is collected)
            await self.close()
            raise

    async def close(self) -> None:
        for client in (self._offsets, self._admin):
            if client is not None:
                await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())

    async def read(self) -> Health:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached.read_at > self._ttl_s:
                try:
                    async with asyncio.timeout(10):
                        self._cached = await self._read()
                except Exception as exc:  # the dashboard shows "unavailable"; the service stays up
                    log.warning("kafka health unavailable", error_type=type(exc).__name__)
                    self._cached = Health(error=type(exc).__name__, read_at=time.monotonic())
            return self._cached

    def _tps(self, topic: str) -> list[TopicPartition]:
        name = self._prefix + topic
        return [TopicPartition(name, p) for p in range(self._partitions.get(name, 1))]

    async def _read(self) -> Health:
        assert self._admin is not None and self._offsets is not None, "start() first"
        wanted = {t for consumed in self._consumers.values() for t in consumed}
        all_tps = [tp for t in sorted(wanted | set(topics.EVENT_TOPICS)) for tp in (*self._tps(t), *self._dlq(t))]
        end = await self._offsets.end_offsets(all_tps)
        beginning = await self._offsets.beginning_offsets(all_tps)
        pairs = [(service, topic) for service, consumed in self._consumers.items() for topic in consumed]
        groups = sorted({consumer_group(s, t) for s, t in pairs})
        committed = dict(zip(groups, await asyncio.gather(*(self._committed(g) for g in groups)), strict=True))
        lag_by_group: dict[str, int] = {}
        lag_by_service: dict[str, int] = {s: 0 for s in self._consumers}
        for service, topic in pairs:  # a group over several topics: its lag is the sum over them
            group, tps = consumer_group(service, topic), self._tps(topic)
            lag = group_lag({tp: end[tp] for tp in tps}, committed[group], beginning)
            lag_by_group[group] = lag_by_group.get(group, 0) + lag
            lag_by_service[service] += lag
        dead = {t: sum(end[tp] - beginning[tp] for tp in self._dlq(t)) for t in topics.EVENT_TOPICS}
        return Health(lag_by_service, lag_by_group, dead, None, time.monotonic())

    def _dlq(self, topic: str) -> list[TopicPartition]:
        return self._tps(topics.dlq(topic))

    async def _committed(self, group: str) -> dict[TopicPartition, int]:
        assert self._admin is not None
        offsets = await self._admin.list_consumer_group_offsets(self._prefix + group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
