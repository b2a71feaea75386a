"""SQL of membership cards: a desa's covered members (what their cards print) and the counts per desa. Never commits."""

from __future__ import annotations

import asyncpg

from shared.db import Conn


async def covered_in_desa(conn: Conn, desa_code: str) -> list[asyncpg.Record]:
    """The desa's enrolled members with what a card prints, by name."""
    return await conn.fetch(
        """
        SELECT id, full_name, progress->>'membership_number' AS membership_number,
               progress->>'coverage_start' AS coverage_start, progress->>'funding_source' AS funding_source,
               progress->>'funding_source_name' AS funding_source_name
        FROM nominations
        WHERE desa_code = $1 AND outcome = 'enrolled' AND progress->>'membership_number' IS NOT NULL
          AND progress->>'coverage_start' IS NOT NULL
        ORDER BY full_name, id
        """,
        desa_code,
    )


async def covered_counts(conn: Conn, area: str | None) -> dict[str, int]:
    """Enrolled members per desa of ``area`` (None: everywhere)."""
    rows = await conn.fetch(
        """
        SELECT desa_code, count(*) AS n FROM nominations
        WHERE outcome = 'enrolled' AND progress->>'membership_number' IS NOT NULL
          AND ($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%')
        GROUP BY desa_code ORDER BY desa_code
        """,
        area,
    )
    return {r["desa_code"]: r["n"] for r in rows}
