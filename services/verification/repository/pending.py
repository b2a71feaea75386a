"""SQL of the nominations waiting for an unavailable registry (``pending_lookups``); never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.db import Conn


async def add_pending(conn: Conn, items: Sequence[tuple[uuid.UUID, Any, str]], delay_s: float) -> None:
    """(nomination id, envelope JSON, error) for nominations waiting for the registry; first retry in ``delay_s``."""
    await conn.executemany(
        """
        INSERT INTO pending_lookups (nomination_id, envelope, last_error, next_attempt_at)
        VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision))
        ON CONFLICT (nomination_id) DO NOTHING
        """,
        [(*item, delay_s) for item in items],
    )


async def due_pending(conn: Conn, limit: int) -> list[asyncpg.Record]:
    """Due pending look-ups, locked for this transaction (another replica skips them)."""
    return await conn.fetch(
        """
        SELECT nomination_id, envelope, attempts FROM pending_lookups WHERE next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
        """,
        limit,
    )


async def due_niks(conn: Conn | asyncpg.Pool, limit: int) -> list[str]:
    """The NIKs of the due pending look-ups, unlocked: what the retry job asks the registry before its transaction
    (which then locks the due rows, ``due_pending``; a row another replica took meanwhile is simply skipped)."""
    rows = await conn.fetch(
        """
        SELECT envelope->'payload'->>'nik' AS nik FROM pending_lookups WHERE next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1
        """,
        limit,
    )
    return [r["nik"] for r in rows if r["nik"]]


async def reschedule_pending(conn: Conn, items: Sequence[tuple[uuid.UUID, float, str]]) -> None:
    """(nomination id, seconds until the next attempt, error) for look-ups the registry still could not answer."""
    await conn.executemany(
        """
        UPDATE pending_lookups SET attempts = attempts + 1, last_error = $3,
               next_attempt_at = now() + make_interval(secs => $2)
        WHERE nomination_id = $1
        """,
        items,
    )


async def delete_pending(conn: Conn, nomination_ids: Sequence[uuid.UUID]) -> None:
    await conn.execute("DELETE FROM pending_lookups WHERE nomination_id = ANY($1::uuid[])", list(nomination_ids))


async def pending_count(conn: Conn | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pending_lookups"))
