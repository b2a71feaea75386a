"""Retention: no table grows without bound. One job, a declarative policy per service.

Every table that grows with time beyond the programme's own records (inbox rows per consumed event, idempotency
keys, replay-protection ids, receipts, digests, parked outbox rows, ...) has a ``Rule`` here: rows whose timestamp
column is older than the rule's setting (days) are deleted. Tables kept on purpose (nominations, decisions, the
audit log, semantic-idempotency tables) have none; docs/RELIABILITY.md ("Retention") lists every table and why.

The job deletes in bounded batches (``retention_batch_rows`` rows a statement, each its own transaction, picked by
``ctid`` with a LIMIT), so it never holds long locks or builds one huge transaction. A session advisory lock makes
one replica run it at a time, like the outbox relay's; a replica that does not get the lock skips the run, and
the background loop also skips when ``retention_runs`` shows another replica ran it less than an interval ago. Metrics:
``payung_retention_deleted_total{table}`` and ``payung_retention_last_run_timestamp_seconds``. Logs name tables
and counts, never rows.

It runs daily in the background of every service (``job``: a job of shared/jobs.py, started by shared/service.py)
and on demand: ``./payung retention run [--service S]`` (deploy/ops/retention_cli.py).

The inbox rule is the one that can break correctness: an inbox row deleted while a copy of its event can still be
delivered lets that copy be processed twice. ``inbox_minimum_days`` derives the bound from shared/topics.py and
``ServiceSettings`` refuses a smaller ``retention_inbox_days`` at startup.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from shared import metrics, topics
from shared.db import Conn
from shared.jobs import Job, Next
from shared.logs import get_logger

log = get_logger(__name__)

_RETENTION_LOCK = 0x5041_5952  # "PAYR": one retention run per database at a time
# Added to the redelivery window of an event: a replay started late in the day, clocks of the hosts apart.
INBOX_MARGIN_DAYS = 7
# Final states of a notification delivery: nothing will change it any more (pending/sending/held still may).
_FINAL_DELIVERY = "status IN ('sent', 'delivered', 'read', 'failed')"
_NO_ATTEMPTS_LEFT = "NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = t.id)"


def inbox_minimum_days() -> int:
    """The fewest days an inbox row must be kept so that no copy of its event can still arrive after it is gone.

    A copy of an event can reach a consumer as long as (1) its record is on the topic (a rewind, or a consumer group
    whose offsets expired reading from the earliest offset), (2) then as a dead letter of it (written at the latest
    when the record is about to expire: a redelivered record can fail a check it passed before, e.g. after a key
    rotation), kept on the ``.dlq`` topic and replayable with ``payung dlq replay``, (3) then as the replayed copy,
    on the source topic again. An event is processed no earlier than it was published, so ``processed_at`` plus the
    sum of these retentions bounds every delivery; the margin covers clocks and a replay taking its time.
    """
    specs = topics.all_topics()
    event_days = max(s.retention_ms for s in specs if not s.name.endswith(".dlq")) / topics.DAY_MS
    dlq_days = max(s.retention_ms for s in specs if s.name.endswith(".dlq")) / topics.DAY_MS
    return int(2 * event_days + dlq_days) + INBOX_MARGIN_DAYS


def check_inbox_days(days: int) -> int:
    """``days`` if the inbox may keep its rows that long only; ValueError saying why otherwise."""
    minimum = inbox_minimum_days()
    if days < minimum:
        raise ValueError(
            f"PAYUNG_RETENTION_INBOX_DAYS={days} is below {minimum}: a copy of an event can still arrive that long"
            " after it was processed (event topic retention, then its dead letter's, then the replayed copy's,"
            " plus a margin; docs/RELIABILITY.md), and an inbox row deleted before would let it be applied twice"
        )
    return days


@dataclass(frozen=True)
class Rule:
    """Delete rows of ``table`` whose ``column`` is older than the days of setting ``setting`` (and ``where``)."""

    table: str
    column: str
    setting: str  # a field of the service's settings, in days
    default_days: int
    where: str = ""  # an extra SQL condition on the table's rows (trusted: written here, never from input)
    why: str = ""


SHARED: tuple[Rule, ...] = (
    Rule("inbox", "processed_at", "retention_inbox_days", 180, why="a row per consumed event; inbox_minimum_days"),
    Rule(
        "outbox_parked",
        "parked_at",
        "retention_parked_outbox_days",
        90,
        why="refused by the broker for good; kept as long as a dead letter is (the .dlq topics' 90 days)",
    ),
)

# Per service, after the shared rules. Order matters where one table refers to another (attempts before deliveries).
POLICY: Mapping[str, tuple[Rule, ...]] = {
    "nomination": (
        Rule("idempotency_keys", "created_at", "retention_idempotency_keys_days", 90, why="one row per request"),
        Rule("selfcheck_lookups", "at", "retention_selfcheck_days", 90, why="self-check audit and budget windows"),
        Rule("inbound_answers", "answered_at", "retention_selfcheck_days", 90, why="one answer per keyword message"),
        Rule(
            "objection_evidence",
            "decided_at",
            "retention_objection_evidence_days",
            365,
            why="files of decided objections (personal data); open ones have no decided_at and stay",
        ),
        Rule("leads", "updated_at", "retention_leads_days", 180, why="personal data: gone after its last change"),
    ),
    "verification": (
        Rule("dci_messages", "received_at", "retention_dci_messages_days", 90, why="replay protection of DCI calls"),
        Rule("dci_searches", "asked_at", "retention_dci_searches_days", 30, why="one row per NIK asked"),
        Rule(
            "registry_cache",
            "expires_at",
            "retention_registry_cache_days",
            7,
            why="expired answers are never read again (personal data: not kept past use)",
        ),
        Rule(
            "objection_evidence",
            "stored_at",
            "retention_objection_evidence_days",
            365,
            where="decided",
            why="documents of decided objections (personal data); the case and its decision stay",
        ),
    ),
    "enrolment": (),
    "notification": (
        Rule("receipts", "received_at", "retention_receipts_days", 90, why="provider receipts"),
        Rule("delivery_attempts", "at", "retention_deliveries_days", 365, why="per attempt, goes with its delivery"),
        Rule(
            "deliveries",
            "created_at",
            "retention_deliveries_days",
            365,
            where=f"{_FINAL_DELIVERY} AND {_NO_ATTEMPTS_LEFT}",
            why="one per message sent (daily digests included); finished ones only",
        ),
        Rule(
            "digest_items",
            "created_at",
            "retention_digests_days",
            90,
            where="digest_day IS NOT NULL",
            why="taken by a digest",
        ),
        Rule("digests", "created_at", "retention_digests_days", 90, why="one per desa and day"),
        Rule("inbound_messages", "created_at", "retention_inbound_days", 30, why="replay and flood check of inbound"),
        Rule(
            "claim_members",
            "updated_at",
            "retention_claim_members_days",
            90,
            where="ended_on IS NOT NULL",
            why="ended members are never reminded (a phone and a membership number each)",
        ),
    ),
    "reporting": (),
}


def rules(service: str) -> tuple[Rule, ...]:
    """Every rule of ``service``: the shared tables first, then its own (a service not listed: the shared ones)."""
    return SHARED + POLICY.get(service, ())


def days_of(rule: Rule, settings: object) -> int:
    """The rule's retention in days from the service's settings (its default when the settings lack the field)."""
    return int(getattr(settings, rule.setting, rule.default_days))


@dataclass
class RunResult:
    ran: bool  # False: skipped (another replica is running it, or ran it recently)
    deleted: dict[str, int]
    statements: int = 0
    skipped: str = ""  # why not, when not ran


async def delete_older(
    conn: Conn, rule: Rule, cutoff: datetime, batch_rows: int, pause_s: float = 0.0
) -> tuple[int, int]:
    """Delete the rule's rows older than ``cutoff``, ``batch_rows`` per statement (each committed on its own);
    returns (rows deleted, statements run)."""
    extra = f" AND ({rule.where})" if rule.where else ""
    # Identifiers come from the rules above, never from input; the limit keeps every statement short.
    sql = (
        f"DELETE FROM {rule.table} WHERE ctid = ANY(ARRAY("  # noqa: S608 (a TID scan of at most $2 rows)
        f"SELECT ctid FROM {rule.table} t WHERE t.{rule.column} < $1{extra} LIMIT $2))"
    )
    total = statements = 0
    while True:
        status = await conn.execute(sql, cutoff, batch_rows)
        statements += 1
        n = int(status.split()[-1])
        total += n
        if n:
            metrics.RETENTION_DELETED.labels(rule.table).inc(n)
        if n < batch_rows:
            return total, statements
        if pause_s:
            await asyncio.sleep(pause_s)  # let other work at the table in between


async def run(
    conn: Conn,
    service: str,
    settings: object,
    *,
    now: datetime | None = None,
    batch_rows: int | None = None,
    min_gap_s: float | None = None,
) -> RunResult:
    """One retention run of ``service`` on ``conn`` (not inside a transaction). ``now`` replaces the database's
    clock (tests simulate days); ``batch_rows`` the setting. Skipped when another session holds the lock, or when
    ``min_gap_s`` is given and a run (of any replica) finished less than that many seconds ago."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RETENTION_LOCK):
        log.info("retention skipped: another replica is running it", service=service)
        return RunResult(ran=False, deleted={}, skipped="another replica holds the retention lock (running now)")
    started = time.perf_counter()
    try:
        if min_gap_s is not None:
            ago = await conn.fetchval(
                "SELECT extract(epoch FROM now() - finished_at)::float8 FROM retention_runs WHERE job = 'retention'"
            )
            if ago is not None and ago < min_gap_s:
                metrics.RETENTION_LAST_RUN.set(time.time() - ago)  # every replica shows the database's last run
                return RunResult(ran=False, deleted={}, skipped=f"a replica ran it {ago:.0f} s ago")
        now = now or await conn.fetchval("SELECT now()")
        rows = batch_rows or int(getattr(settings, "retention_batch_rows", 5000))
        pause = float(getattr(settings, "retention_pause_s", 0.0))
        result = RunResult(ran=True, deleted={})
        for rule in rules(service):
            cutoff = now - timedelta(days=days_of(rule, settings))
            deleted, statements = await delete_older(conn, rule, cutoff, rows, pause)
            result.deleted[rule.table] = result.deleted.get(rule.table, 0) + deleted
            result.statements += statements
        await conn.execute(
            """
            INSERT INTO retention_runs (job, finished_at, deleted) VALUES ('retention', now(), $1)
            ON CONFLICT (job) DO UPDATE SET finished_at = excluded.finished_at, deleted = excluded.deleted
            """,
            result.deleted,
        )
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _RETENTION_LOCK)
    metrics.RETENTION_LAST_RUN.set(time.time())
    log.info(
        "retention run",
        service=service,
        deleted=result.deleted,
        statements=result.statements,
        seconds=round(time.perf_counter() - started, 3),
    )
    return result


def job(pool: asyncpg.Pool, service: str, settings: object) -> Job:
    """The daily retention job of a service (shared/jobs.py). Every replica wakes every ``retention_interval_s``
    (the first time a few minutes after start, jittered); the one that finds no run of the last 90 % of an interval
    runs it, the others skip: one run a day per database, whichever replica. A failure is logged and tried again at
    the next wake-up."""
    interval = float(getattr(settings, "retention_interval_s", 86400.0))

    async def step() -> Next:
        async with pool.acquire() as conn:
            result = await run(conn, service, settings, min_gap_s=0.9 * interval)
        if not result.ran:
            log.info("retention not run here", service=service, reason=result.skipped)
        return Next.WAIT

    return Job("retention", step, interval_s=interval, first_delay_s=min(interval, 300.0))


def summary(result: RunResult) -> Sequence[str]:
    """Lines for an operator: the rows deleted per table."""
    if not result.ran:
        return [f"skipped: {result.skipped}"]
    return [f"{table}: {n} deleted" for table, n in result.deleted.items()]
