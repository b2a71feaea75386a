"""The tallies on real PostgreSQL: after any mix of batches (concurrent ones, redeliveries, re-verification after an
objection, refusals, ends, rejections), every report read answers what a direct aggregate over
``report_nominations`` answers, for the whole programme and for every kind of area; a replayed batch changes
nothing; and ``report_tallies_rebuild()`` (migration 0004's backfill) gives the same tallies as the fold kept.

The reference queries below are the reads as they were before the tallies (scans of the rows).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.reporting import handlers, repository
from services.reporting.app import SPEC
from services.reporting.settings import ReportingSettings
from shared import db
from shared.db import Conn
from tests import reporting_events as ev
from tests.reporting_events import reporting_deps

pytestmark = pytest.mark.integration

T0 = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)
AREAS = [None, "64.08", "64.08.01", "64.08.04.1001", "64.08.10.2003", "64.09"]
SCOPE = "($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%')"
DAY = "AT TIME ZONE 'Asia/Makassar')::date"
REFERENCE_BY_AREA = """
    SELECT {column} AS code, count(*) AS nominated, count(*) FILTER (WHERE status = 'enrolled') AS covered,
           count(*) FILTER (WHERE status = 'waitlisted') AS waitlisted,
           count(*) FILTER (WHERE status = 'rejected') AS rejected
    FROM report_nominations WHERE {where} GROUP BY 1 ORDER BY covered DESC, nominated DESC, 1
"""


async def pairs(conn: Conn, sql: str, *args: Any) -> dict[Any, int]:
    return {tuple(r)[:-1] if len(r) > 2 else r[0]: r[len(r) - 1] for r in await conn.fetch(sql, *args)}


async def reference(conn: Conn, area: str | None) -> dict[str, Any]:
    """Every read, as a direct aggregate over the rows."""
    return {
        "status": await pairs(conn, f"SELECT status, count(*) FROM report_nominations WHERE {SCOPE} GROUP BY 1", area),
        "per_day": (
            await pairs(
                conn,
                f"SELECT (submitted_at {DAY}, count(*) FROM report_nominations"
                f" WHERE submitted_at IS NOT NULL AND {SCOPE} GROUP BY 1",
                area,
            ),
            await pairs(
                conn,
                f"SELECT (enrolled_at {DAY}, count(*) FROM report_nominations"
                f" WHERE enrolled_at IS NOT NULL AND {SCOPE} GROUP BY 1",
                area,
            ),
            await pairs(
                conn,
                "SELECT ended_on, count(*) FROM report_nominations"
                f" WHERE ended_on IS NOT NULL AND enrolled_at IS NOT NULL AND {SCOPE} GROUP BY 1",
                area,
            ),
        ),
        "kecamatan": [
            dict(r)
            for r in await conn.fetch(
                REFERENCE_BY_AREA.format(column="kecamatan_code", where=f"kecamatan_code IS NOT NULL AND {SCOPE}"),
                area,
            )
        ],
        "desa": [
            dict(r)
            for r in await conn.fetch(
                REFERENCE_BY_AREA.format(column="desa_code", where=f"desa_code IS NOT NULL AND {SCOPE}"), area
            )
        ],
        "desa_of": [
            dict(r)
            for r in await conn.fetch(
                REFERENCE_BY_AREA.format(column="desa_code", where=f"kecamatan_code = $2 AND {SCOPE}"),
                area,
                "64.08.01",
            )
        ],
        "occupation": [
            dict(r)
            for r in await conn.fetch(
                "SELECT occupation AS code, count(*) AS nominated,"
                " count(*) FILTER (WHERE status = 'enrolled') AS covered FROM report_nominations"
                f" WHERE occupation IS NOT NULL AND {SCOPE} GROUP BY 1 ORDER BY covered DESC, nominated DESC, 1",
                area,
            )
        ],
        "reasons": [
            tuple(r)
            for r in await conn.fetch(
                "SELECT reason, count(*) FROM report_nominations, unnest(rejection_reasons) AS reason"
                f" WHERE status = 'rejected' AND {SCOPE} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
                area,
            )
        ],
        "notifications": dict(
            await conn.fetchrow(
                "SELECT coalesce(sum(notifications_sent), 0) AS sent, coalesce(sum(notifications_failed), 0) AS failed"
                f" FROM report_nominations WHERE {SCOPE}",
                area,
            )
        ),
    }


async def tallied(conn: Conn, area: str | None) -> dict[str, Any]:
    """The same reads, as the service answers them (from the tallies)."""
    return {
        "status": await repository.status_counts(conn, area),
        "per_day": await repository.per_day(conn, area),
        "kecamatan": await repository.by_area(conn, "kecamatan", area=area),
        "desa": await repository.by_area(conn, "desa", area=area),
        "desa_of": await repository.by_area(conn, "desa", "64.08.01", area=area),
        "occupation": await repository.by_occupation(conn, area),
        "reasons": await repository.rejection_reasons(conn, 10, area),
        "notifications": await repository.notification_totals(conn, area),
    }


async def programme_reference(conn: Conn) -> dict[str, Any]:
    """The programme-wide reads (no area): seats per source, nominations per desa and occupation, histories."""
    history: dict[str, tuple[dict[Any, int], dict[Any, int]]] = {}
    for i, sql in enumerate(
        (
            f"SELECT funding_source, (enrolled_at {DAY}, count(*) FROM report_nominations WHERE enrolled_at IS NOT NULL"
            " AND funding_source IS NOT NULL AND programme_year = $1 GROUP BY 1, 2",
            "SELECT funding_source, ended_on, count(*) FROM report_nominations WHERE ended_on IS NOT NULL"
            " AND enrolled_at IS NOT NULL AND funding_source IS NOT NULL AND programme_year = $1 GROUP BY 1, 2",
        )
    ):
        for source, day, n in await conn.fetch(sql, 2026):
            history.setdefault(source, ({}, {}))[i][day] = n
    return {
        "active": await pairs(
            conn,
            "SELECT funding_source, count(*) FROM report_nominations"
            " WHERE status = 'enrolled' AND programme_year = $1 GROUP BY 1",
            2026,
        ),
        "by_desa": await pairs(
            conn,
            "SELECT desa_code, count(*) FROM report_nominations"
            " WHERE desa_code IS NOT NULL AND submitted_at IS NOT NULL GROUP BY 1",
        ),
        "by_occupation": await pairs(
            conn, "SELECT occupation, count(*) FROM report_nominations WHERE occupation IS NOT NULL GROUP BY 1"
        ),
        "history": history,
    }


async def programme_tallied(conn: Conn) -> dict[str, Any]:
    return {
        "active": await repository.active_by_source(conn, 2026),
        "by_desa": await repository.nominations_by_desa(conn),
        "by_occupation": await repository.nominations_by_occupation(conn),
        "history": {s: (h.filled, h.ended) for s, h in (await repository.source_history(conn, 2026)).items()},
    }


async def tables(conn: Conn) -> list[list[tuple[Any, ...]]]:
    """The tallies' non-zero rows, in a fixed order."""
    return [
        sorted((tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} WHERE n <> 0")), key=repr)
        for t in ("report_status_tally", "report_day_tally", "report_reason_tally")
    ]


async def test_every_report_read_from_the_tallies_equals_the_aggregate_of_the_rows(
    infra: Any, create_database: Any, topic_prefix: str
) -> None:
    dsn = await create_database("reporting_tallies")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    settings = ReportingSettings(database_url=dsn, kafka_bootstrap=infra.kafka_bootstrap, topic_prefix=topic_prefix)
    rng = random.Random(1717)
    stream = [e for _ in range(400) for e in ev.life(rng, uuid.uuid4(), T0)]
    rng.shuffle(stream)  # topics are read independently: any order
    stream += rng.sample(stream, 60)  # redeliveries of single events
    batches = []
    while stream:
        size = rng.randrange(1, 60)
        batches.append(stream[:size])
        stream = stream[size:]
    pool = await db.create_pool(dsn, 1, 4)
    try:
        deps = reporting_deps(pool, settings)

        async def apply(batch: list[Any]) -> None:
            async with pool.acquire() as conn, conn.transaction():
                await handlers.apply_events(deps, conn, batch)

        for i in range(0, len(batches), 4):  # four batches at a time, as replicas would (no deadlock)
            await asyncio.gather(*(apply(b) for b in batches[i : i + 4]))

        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM report_nominations") == 400
            for area in AREAS:
                assert await tallied(conn, area) == await reference(conn, area), area
            assert await programme_tallied(conn) == await programme_reference(conn)
            assert (await reference(conn, None))["reasons"], "the mix has rejections"

            kept = await tables(conn)
            milestones = [e for e in batches[0] + batches[1] if type(e.payload).__name__.startswith(("Ident", "Enrol"))]
        await apply(milestones)  # a replayed batch of facts already known: no tally moves
        async with pool.acquire() as conn:
            assert await tables(conn) == kept
            async with conn.transaction():
                await repository.rebuild_tallies(conn)  # the migration's backfill, from the rows alone
            assert await tables(conn) == kept
    finally:
        await pool.close()
