"""The retention job on real PostgreSQL (shared/retention.py): old rows go, young rows stay, the inbox still refuses
a redelivery of a young event, batches are bounded, one run at a time, and the inbox's size stays flat."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.nomination.app import SPEC as NOMINATION
from services.nomination.settings import NominationSettings
from services.notification.app import SPEC as NOTIFICATION
from services.notification.settings import NotificationSettings
from shared import db, retention
from shared.consumer import Consumer
from shared.contracts import Envelope, IdentityVerified, encode
from tests.records import record, verified
from tests.waiting import wait_for

pytestmark = pytest.mark.integration
NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
REQUIRED: dict[str, Any] = {"kafka_bootstrap": "unused:9092"}


def nomination_settings(dsn: str, **more: Any) -> NominationSettings:
    return NominationSettings(database_url=dsn, person_key_secret="retention-secret-0123456789", **REQUIRED, **more)


async def migrated(create_database: Any, spec: Any) -> str:
    dsn = await create_database(f"retention_{spec.name}")
    await asyncio.to_thread(db.migrate, dsn, spec.migrations)
    return dsn


@pytest.fixture
async def nomination_db(create_database: Any) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    dsn = await migrated(create_database, NOMINATION)
    conn = await db.connect(dsn)
    yield dsn, conn
    await conn.close()


async def add_inbox(conn: asyncpg.Connection, consumer: str, at: datetime, n: int) -> None:
    await conn.execute(
        "INSERT INTO inbox (consumer, event_id, processed_at)"
        " SELECT $1, gen_random_uuid(), $2 FROM generate_series(1, $3)",
        consumer,
        at,
        n,
    )


async def count(conn: asyncpg.Connection, table: str, where: str = "true") -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}"))


def deleted_metric(table: str) -> float:
    return REGISTRY.get_sample_value("payung_retention_deleted_total", {"table": table}) or 0.0


async def test_old_rows_go_and_young_rows_stay(nomination_db: tuple[str, asyncpg.Connection]) -> None:
    dsn, conn = nomination_db
    settings = nomination_settings(dsn)
    await add_inbox(conn, "nomination.identity.verified", NOW - timedelta(days=181), 30)
    await add_inbox(conn, "nomination.identity.verified", NOW - timedelta(days=179), 20)
    for i, days in enumerate((91, 91, 89)):
        await conn.execute(
            "INSERT INTO idempotency_keys (principal, key, request_hash, nomination_id, created_at)"
            " VALUES ('p', $1, 'h', gen_random_uuid(), $2)",
            f"key-{i}",
            NOW - timedelta(days=days),
        )
    for days in (95, 10):
        await conn.execute(
            "INSERT INTO outbox_parked (outbox_id, event_id, topic, value, event_type, created_at, parked_at, error)"
            " VALUES (1, gen_random_uuid(), 't', 'v', 'E', $1, $1, 'MessageSizeTooLargeError')",
            NOW - timedelta(days=days),
        )
    for days in (91, 10):  # self-check lookups: hashes only, the audit and the budgets' windows
        await conn.execute(
            "INSERT INTO selfcheck_lookups (at, channel, source_hash, nik_hash, outcome)"
            " VALUES ($1, 'web', 's', 'n', 'miss')",
            NOW - timedelta(days=days),
        )
    await conn.execute(
        "INSERT INTO inbound_answers (message_id, source_hash, kind, answered_at)"
        " VALUES (gen_random_uuid(), 's', 'help', $1)",
        NOW - timedelta(days=95),
    )
    before = deleted_metric("inbox")

    result = await retention.run(conn, "nomination", settings, now=NOW)

    assert result.ran
    assert result.deleted == {
        "inbox": 30, "outbox_parked": 1, "idempotency_keys": 2, "selfcheck_lookups": 1, "inbound_answers": 1,
        "objection_evidence": 0, "leads": 0,
    }  # fmt: skip
    assert await count(conn, "selfcheck_lookups") == 1
    assert await count(conn, "inbox") == 20
    assert await count(conn, "idempotency_keys") == 1
    assert await count(conn, "outbox_parked") == 1
    assert deleted_metric("inbox") - before == 30
    assert (REGISTRY.get_sample_value("payung_retention_last_run_timestamp_seconds") or 0) > 0
    again = await retention.run(conn, "nomination", settings, now=NOW)  # nothing left to delete
    assert again.deleted == {
        "inbox": 0,
        "outbox_parked": 0,
        "idempotency_keys": 0,
        "selfcheck_lookups": 0,
        "inbound_answers": 0,
        "objection_evidence": 0,
        "leads": 0,
    }


async def test_the_inbox_still_refuses_a_redelivery_of_a_young_event(
    nomination_db: tuple[str, asyncpg.Connection],
) -> None:
    dsn, conn = nomination_db
    pool = await db.create_pool(dsn, 1, 2)
    applied: list[uuid.UUID] = []

    async def handler(_conn: asyncpg.Connection, events: Sequence[Envelope[IdentityVerified]]) -> None:
        applied.extend(e.event_id for e in events)

    topic, name = "r.identity.verified", f"retention-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(name=name, topic=topic, payload=IdentityVerified, handler=handler, pool=pool)
    young, old = verified(), verified()
    try:
        await consumer.process([record(topic, 0, encode(young)), record(topic, 1, encode(old))])
        # processed 156 days ago (a copy can still arrive) and 181 days ago (none can: its row may go)
        await conn.execute(
            "UPDATE inbox SET processed_at = $2 WHERE event_id = $1", young.event_id, NOW - timedelta(days=156)
        )
        await conn.execute(
            "UPDATE inbox SET processed_at = $2 WHERE event_id = $1", old.event_id, NOW - timedelta(days=181)
        )
        result = await retention.run(conn, "nomination", nomination_settings(dsn), now=NOW)
        assert result.deleted["inbox"] == 1

        await consumer.process([record(topic, 0, encode(young))])  # a redelivery of the young event
        assert applied == [young.event_id, old.event_id]  # refused: not applied twice
        assert consumer.stats.duplicates == 1
        # the old event's row is gone: the job did delete (a copy of it could no longer exist on any topic)
        assert await count(conn, "inbox", f"event_id = '{old.event_id}'") == 0
    finally:
        await pool.close()


async def test_batches_are_bounded(nomination_db: tuple[str, asyncpg.Connection]) -> None:
    _, conn = nomination_db
    await add_inbox(conn, "c", NOW - timedelta(days=200), 12_345)
    await add_inbox(conn, "c", NOW - timedelta(days=1), 10)
    rule = retention.rules("nomination")[0]
    assert rule.table == "inbox"
    deleted, statements = await retention.delete_older(conn, rule, NOW - timedelta(days=180), 1000)
    assert (deleted, statements) == (12_345, 13)  # 12 full batches of 1,000, then the last 345
    assert await count(conn, "inbox") == 10


async def test_a_large_backlog_goes_in_5000_row_statements(
    nomination_db: tuple[str, asyncpg.Connection], capsys: pytest.CaptureFixture[str]
) -> None:
    """200,000 old rows among 50,000 young ones (a first run on an inbox that never had the job): the default
    batch size, 40 full statements and an empty last one; the rate is printed for docs/PERFORMANCE.md."""
    _, conn = nomination_db
    await add_inbox(conn, "c", NOW - timedelta(days=200), 200_000)
    await add_inbox(conn, "c", NOW - timedelta(days=2), 50_000)
    await conn.execute("ANALYZE inbox")
    started = time.perf_counter()
    deleted, statements = await retention.delete_older(conn, retention.SHARED[0], NOW - timedelta(days=180), 5000)
    seconds = time.perf_counter() - started
    assert (deleted, statements) == (200_000, 41)
    assert await count(conn, "inbox") == 50_000
    with capsys.disabled():
        print(
            f"\n200,000 inbox rows deleted in {statements} statements, {seconds:.2f} s"
            f" ({deleted / seconds:,.0f} rows/s)"
        )


async def test_the_advisory_lock_lets_one_run_at_a_time(nomination_db: tuple[str, asyncpg.Connection]) -> None:
    dsn, conn = nomination_db
    settings = nomination_settings(dsn)
    await add_inbox(conn, "c", NOW - timedelta(days=200), 20_000)
    other = await db.connect(dsn)
    try:
        # another replica is running: this run must not delete anything
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", retention._RETENTION_LOCK)
        skipped = await retention.run(conn, "nomination", settings, now=NOW)
        assert not skipped.ran and skipped.deleted == {}
        assert await count(conn, "inbox") == 20_000
        await other.execute("SELECT pg_advisory_unlock($1)", retention._RETENTION_LOCK)

        # two runs at once, in small batches: one deletes, the other skips (or finds nothing left)
        first, second = await asyncio.gather(
            retention.run(conn, "nomination", settings, now=NOW, batch_rows=500),
            retention.run(other, "nomination", settings, now=NOW, batch_rows=500),
        )
        deleting = [r for r in (first, second) if r.ran and r.deleted.get("inbox")]
        assert len(deleting) == 1 and deleting[0].deleted["inbox"] == 20_000
        assert await count(conn, "inbox") == 0
        # the lock is released after a run: the next one runs
        assert (await retention.run(other, "nomination", settings, now=NOW)).ran
        # the daily loop of another replica skips a run made less than an interval ago; the CLI (no gap) does not
        recent = await retention.run(conn, "nomination", settings, now=NOW, min_gap_s=3600)
        assert not recent.ran and "ago" in recent.skipped
        assert (await retention.run(conn, "nomination", settings, now=NOW, min_gap_s=0)).ran
        last = await conn.fetchrow("SELECT finished_at, deleted FROM retention_runs")
        assert last["deleted"] == {
            "inbox": 0,
            "outbox_parked": 0,
            "idempotency_keys": 0,
            "selfcheck_lookups": 0,
            "inbound_answers": 0,
            "objection_evidence": 0,
            "leads": 0,
        }
    finally:
        await other.close()


async def test_the_inbox_size_stays_flat_over_simulated_days(
    nomination_db: tuple[str, asyncpg.Connection], capsys: pytest.CaptureFixture[str]
) -> None:
    """A year and a half of 200 consumed events a day: with the job run daily the inbox holds at most the
    retention's worth of days; without it, it grows every day."""
    dsn, conn = nomination_db
    days, per_day, keep = 540, 200, retention.inbox_minimum_days()
    settings = nomination_settings(dsn, retention_inbox_days=keep)
    start = NOW - timedelta(days=days)
    sizes: list[int] = []
    for day in range(days):
        today = start + timedelta(days=day)
        await add_inbox(conn, "with-job", today, per_day)
        await retention.run(conn, "nomination", settings, now=today)
        sizes.append(await count(conn, "inbox"))
    # Kept: the rows of the last `keep` days and today's (a row exactly `keep` days old is not older than it).
    bound = (keep + 1) * per_day
    assert max(sizes) <= bound
    assert sizes[-1] == sizes[keep + 30] == bound  # flat once the retention is reached
    assert sizes[keep + 100 :] == [bound] * (days - keep - 100)
    # The same load without the job grows without bound.
    await add_inbox(conn, "without-job", start, days * per_day)
    assert await count(conn, "inbox", "consumer = 'without-job'") == days * per_day > 3 * bound
    with capsys.disabled():
        monthly = ", ".join(f"day {d}: {sizes[d - 1]}" for d in (30, 90, 157, 180, 270, 365, 540))
        print(f"\ninbox rows with the daily job ({per_day}/day, {keep} days kept): {monthly}")
        print(f"inbox rows without it after {days} days: {days * per_day}")


async def test_notification_deliveries_go_with_their_attempts(create_database: Any) -> None:
    dsn = await migrated(create_database, NOTIFICATION)
    settings = NotificationSettings(database_url=dsn, **REQUIRED)
    conn = await db.connect(dsn)
    try:
        rows = {"old_sent": (400, "sent"), "old_pending": (400, "pending"), "young_sent": (100, "sent")}
        ids = {}
        for label, (days, status) in rows.items():
            ids[label] = uuid.uuid4()
            await conn.execute(
                """
                INSERT INTO deliveries (id, event_id, nomination_id, person_key, purpose, recipient_role, template,
                    template_version, body, status, next_attempt_at, created_at)
                VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'k', 'enrolment_confirmed', 'beneficiary', 't', 1,
                    'b', $2, CASE WHEN $2 = 'pending' THEN now() END, $3)
                """,
                ids[label],
                status,
                NOW - timedelta(days=days),
            )
            await conn.execute(
                "INSERT INTO delivery_attempts (delivery_id, channel, attempt, outcome, at)"
                " VALUES ($1, 'sms', 1, 'sent', $2)",
                ids[label],
                NOW - timedelta(days=days),
            )
        await conn.execute(
            "INSERT INTO digests (desa_code, day, items, recipients, created_at) VALUES ('d', '2026-01-01', 1, 1, $1)",
            NOW - timedelta(days=91),
        )
        await conn.execute(
            "INSERT INTO opt_outs (address, source, created_at) VALUES ('+62811', 'sms', $1)", NOW - timedelta(days=900)
        )

        result = await retention.run(conn, "notification", settings, now=NOW)

        assert result.deleted["delivery_attempts"] == 2  # the two 400-day-old attempts
        assert result.deleted["deliveries"] == 1  # the finished one; the pending one waits for its end
        left = {r["id"] for r in await conn.fetch("SELECT id FROM deliveries")}
        assert left == {ids["old_pending"], ids["young_sent"]}
        assert result.deleted["digests"] == 1
        assert await count(conn, "opt_outs") == 1  # a person's wish is never deleted
    finally:
        await conn.close()


async def test_the_background_job_runs_in_a_service(nomination_db: tuple[str, asyncpg.Connection]) -> None:
    dsn, conn = nomination_db
    await add_inbox(conn, "c", datetime.now(UTC) - timedelta(days=400), 10)
    pool = await db.create_pool(dsn, 1, 2)
    job = retention.job(pool, "nomination", nomination_settings(dsn, retention_interval_s=0.2))
    task = asyncio.create_task(job.run())
    try:
        await wait_for(lambda: _empty(conn), "the background retention run", timeout=30)
        assert job.stats.errors == 0 and job.stats.runs >= 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()


async def _empty(conn: asyncpg.Connection) -> bool:
    return await count(conn, "inbox") == 0


async def test_the_cli_runs_it_on_demand(nomination_db: tuple[str, asyncpg.Connection]) -> None:
    from typer.testing import CliRunner

    from deploy.cli import app

    dsn, conn = nomination_db
    await add_inbox(conn, "c", datetime.now(UTC) - timedelta(days=400), 7)
    await add_inbox(conn, "c", datetime.now(UTC) - timedelta(days=3), 2)
    args = ["retention", "run", "--service", "nomination", "--database-url", dsn, "--batch-rows", "3"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    assert (
        "nomination: inbox: 7 deleted; outbox_parked: 0 deleted; idempotency_keys: 0 deleted; "
        "selfcheck_lookups: 0 deleted; inbound_answers: 0 deleted"
    ) in result.output
    assert await count(conn, "inbox") == 2
    refused = await asyncio.to_thread(CliRunner().invoke, app, args, env={"PAYUNG_RETENTION_INBOX_DAYS": "30"})
    assert refused.exit_code == 2 and "below 157" in refused.output
    assert await count(conn, "inbox") == 2
