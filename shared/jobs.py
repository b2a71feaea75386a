"""Background jobs: the loops that run beside a service's consumers, all of one shape.

A job is a name and a ``step``: one round of work (retry due registry look-ups, send due messages, register a
batch with BPJS, build the daily digests...). The runner calls it again at once while it says there is more
(``Next.NOW``), waits ``interval_s`` (or until ``wake`` is set) when it says it is idle (``Next.WAIT``), and ends
when it says it is done (``Next.STOP``: a one-off, such as a subscription the registry acknowledged). A step that
raises is logged and counted, and tried again after the interval: a dead dependency never ends the job.

``shared.service`` starts every job of a service after its consumers and cancels them on shutdown (before the
outbox relay drains), and reports each in readiness (``jobs``) and in the metrics (``payung_job_*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from shared.logs import get_logger

log = get_logger(__name__)

JOB_RUNS = Counter("payung_job_runs_total", "Rounds of a background job, by outcome (ok or error)", ["job", "outcome"])
JOB_LAST_OK = Gauge("payung_job_last_success_timestamp_seconds", "Wall time of a job's last successful round", ["job"])


class Next(enum.Enum):
    NOW = "now"  # more work is waiting: run again at once
    WAIT = "wait"  # idle: run again after the interval (or when woken)
    STOP = "stop"  # the job has nothing left to do, ever


@dataclass
class JobStats:
    runs: int = 0
    errors: int = 0
    last_ok_at: float | None = None
    last_error: str | None = None  # exception class name only: messages may carry personal data
    stopped: bool = False


@dataclass
class Job:
    """A named background loop of one service. ``step`` runs one round and says what comes next."""

    name: str
    step: Callable[[], Awaitable[Next]]
    interval_s: float
    wake: asyncio.Event | None = None  # set by whoever has work for the job before the interval ends
    first_delay_s: float = 0.0  # before the first round (jittered between half and all of it)
    stats: JobStats = field(default_factory=JobStats)

    async def run(self) -> None:
        if self.first_delay_s > 0:
            await asyncio.sleep(self.first_delay_s * (0.5 + random.random() / 2))
        while True:
            after = await self._round()
            if after is Next.STOP:
                self.stats.stopped = True
                log.info("job finished", job=self.name)
                return
            if after is Next.WAIT:
                await self._idle()

    async def _round(self) -> Next:
        self.stats.runs += 1
        try:
            after = await self.step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next round tries again
            self.stats.errors += 1
            self.stats.last_error = type(exc).__name__
            JOB_RUNS.labels(self.name, "error").inc()
            log.exception("job round failed", job=self.name, error_type=type(exc).__name__)
            return Next.WAIT
        self.stats.last_ok_at = time.time()
        self.stats.last_error = None
        JOB_RUNS.labels(self.name, "ok").inc()
        JOB_LAST_OK.labels(self.name).set(self.stats.last_ok_at)
        return after

    async def _idle(self) -> None:
        if self.wake is None:
            await asyncio.sleep(self.interval_s)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), self.interval_s)
        self.wake.clear()

    def health(self) -> dict[str, object]:
        return {
            "runs": self.stats.runs,
            "errors": self.stats.errors,
            "last_ok_at": self.stats.last_ok_at,
            "last_error": self.stats.last_error,
            "stopped": self.stats.stopped,
        }
