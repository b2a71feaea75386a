"""What the benchmark samples while it runs: RSS and CPU of every process of the stack, and consumer lag.

Sampled once a second on a background thread (resources) and task (lag); peaks are what the report shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.native import kafka, postgres, stack
from deploy.native.config import SERVICES, StackConfig


@dataclass
class Usage:
    peak_rss_mb: float = 0.0
    cpu_seconds: float = 0.0  # user + system over the sampled window (children included for postgres)
    peak_cpu_percent: float = 0.0  # of one core, over one sampling interval


def stack_pids(cfg: StackConfig) -> dict[str, int]:
    found = {s.name: s.pid for s in stack.status(cfg) if s.pid}
    pg = postgres.running_pid(cfg)
    if pg:
        found["postgres"] = pg
    k = kafka.current_pid(cfg)
    if k:
        found["kafka"] = k
    return found


def _tree_times(proc: psutil.Process) -> tuple[float, float]:
    """(rss in MB, cpu seconds) of a process and its children (postgres forks a backend per connection)."""
    procs = [proc]
    with contextlib.suppress(psutil.Error):
        procs += proc.children(recursive=True)
    rss = cpu = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            rss += p.memory_info().rss / 2**20
            t = p.cpu_times()
            cpu += t.user + t.system
    return rss, cpu


def tree_cpu_seconds(proc: psutil.Process) -> float:
    return _tree_times(proc)[1]


class ResourceSampler:
    """Samples every component once a second until ``stop``; services' RSS is the process's own (no children)."""

    def __init__(self, cfg: StackConfig, interval: float = 1.0) -> None:
        self.cfg = cfg
        self.interval = interval
        self.usage: dict[str, Usage] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start_cpu: dict[str, float] = {}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Usage]:
        self._stop.set()
        self._thread.join()
        return self.usage

    def _run(self) -> None:
        last: dict[str, tuple[float, float]] = {}
        while not self._stop.is_set():
            now = time.monotonic()
            for name, pid in stack_pids(self.cfg).items():
                try:
                    rss, cpu = _tree_times(psutil.Process(pid))
                except psutil.Error:
                    continue
                usage = self.usage.setdefault(name, Usage())
                usage.peak_rss_mb = max(usage.peak_rss_mb, rss)
                self._start_cpu.setdefault(f"{name}:{pid}", cpu)
                usage.cpu_seconds = max(usage.cpu_seconds, cpu - self._start_cpu[f"{name}:{pid}"])
                if name in last:
                    t0, c0 = last[name]
                    if now > t0 and cpu >= c0:
                        usage.peak_cpu_percent = max(usage.peak_cpu_percent, 100 * (cpu - c0) / (now - t0))
                last[name] = (now, cpu)
            self._stop.wait(self.interval)


@dataclass
class LagSampler:
    """Max over time of (end offset - committed offset), summed over partitions, per consumer group of the stack."""

    bootstrap: str
    prefix: str
    interval: float = 2.0
    max_lag: dict[str, int] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, int]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        return self.max_lag

    async def sample(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> dict[str, int]:
        groups = [g[0] for g in await admin.list_consumer_groups() if g[0].startswith(self.prefix)]
        lags: dict[str, int] = {}
        for group in groups:
            offsets: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            ends = await consumer.end_offsets(list(offsets))
            lags[group.removeprefix(self.prefix)] = sum(max(0, ends[tp] - meta.offset) for tp, meta in offsets.items())
        return lags

    async def _run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await admin.start()
        await consumer.start()
        try:
            while True:
                with contextlib.suppress(Exception):
                    for group, lag in (await self.sample(admin, consumer)).items():
                        self.max_lag[group] = max(self.max_lag.get(group, 0), lag)
                await asyncio.sleep(self.interval)
        finally:
            await consumer.stop()
            await admin.close()


__all__ = ["SERVICES", "LagSampler", "ResourceSampler", "Usage", "stack_pids", "tree_cpu_seconds"]
