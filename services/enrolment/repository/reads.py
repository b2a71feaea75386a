"""SQL of what the HTTP API reads: funding sources, one nomination's seat, place and changes, the waitlist's size,
the budget, the DCI enrolment check. Functions take a connection and never commit."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from shared.db import Conn


async def funding_sources(conn: Conn | asyncpg.Pool, year: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT code, programme_year, name, priority, quota, used, premium_idr FROM funding_sources
        WHERE programme_year = $1 ORDER BY priority, code
        """,
        year,
    )


async def find_seat(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT nomination_id, funding_source, programme_year, membership_number, membership_issuer, coverage_start,
               enrolled_at, status, coverage_end, end_reason, bpjs_refusal_code, promoted
        FROM seats WHERE nomination_id = $1 ORDER BY programme_year DESC LIMIT 1
        """,
        nomination_id,
    )


async def find_waitlisted(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    """A waiting entry with its current rank in its year (it moves up as people ahead of it are promoted)."""
    return await conn.fetchrow(
        """
        SELECT w.nomination_id, w.programme_year, w.waitlisted_at,
               (SELECT count(*) FROM waitlist a
                WHERE a.programme_year = w.programme_year AND a.promoted_at IS NULL AND a.removed_at IS NULL
                  AND a.position <= w.position)
               AS position
        FROM waitlist w WHERE w.nomination_id = $1 AND w.promoted_at IS NULL AND w.removed_at IS NULL
        """,
        nomination_id,
    )


async def waitlist_summary(conn: Conn | asyncpg.Pool) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT programme_year, count(*) FILTER (WHERE promoted_at IS NULL AND removed_at IS NULL) AS waiting,
               count(*) FILTER (WHERE promoted_at IS NOT NULL) AS promoted
        FROM waitlist GROUP BY programme_year ORDER BY programme_year
        """
    )


async def changes_of(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT programme_year, change, reason, effective_date, note, recorded_by, recorded_at
        FROM enrolment_changes WHERE nomination_id = $1 ORDER BY id
        """,
        nomination_id,
    )


async def coverage_by_source(conn: Conn | asyncpg.Pool, year: int) -> dict[str, list[tuple[date, Any]]]:
    """Each source's covered seats of the year (confirmed by BPJS): (coverage_start, coverage_end)."""
    rows = await conn.fetch(
        """
        SELECT funding_source, coverage_start, coverage_end FROM seats
        WHERE programme_year = $1 AND status IN ('active', 'ended', 'renewed') AND membership_number IS NOT NULL
        """,
        year,
    )
    out: dict[str, list[tuple[date, Any]]] = {}
    for r in rows:
        out.setdefault(r["funding_source"], []).append((r["coverage_start"], r["coverage_end"]))
    return out


async def pending_by_source(conn: Conn | asyncpg.Pool, year: int) -> dict[str, int]:
    rows = await conn.fetch(
        """
        SELECT funding_source, count(*) AS n FROM seats WHERE programme_year = $1 AND status = 'pending_bpjs'
        GROUP BY funding_source
        """,
        year,
    )
    return {r["funding_source"]: r["n"] for r in rows}


async def covering_seat(conn: Conn, nik: str, on: date) -> asyncpg.Record | None:
    """The NIK's seat BPJS confirmed whose cover has not ended on ``on`` (the latest year's)."""
    return await conn.fetchrow(
        """
        SELECT nomination_id, programme_year, coverage_start, coverage_end FROM seats
        WHERE nik = $1 AND status = 'active' AND (coverage_end IS NULL OR coverage_end >= $2)
        ORDER BY programme_year DESC LIMIT 1
        """,
        nik,
        on,
    )
