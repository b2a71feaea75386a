"""SQL of leads (workers who asked to be nominated). Never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import Conn


async def lock_key(conn: Conn, phone: str, desa_code: str) -> None:
    """Serialise receipts of the same number in the same desa until the transaction ends (the dedup check)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 15))", f"lead:{desa_code}:{phone}")


async def recent(conn: Conn, phone: str, desa_code: str, since: datetime) -> uuid.UUID | None:
    lead_id: uuid.UUID | None = await conn.fetchval(
        """
        SELECT id FROM leads WHERE phone = $1 AND desa_code = $2 AND received_at >= $3
        ORDER BY received_at DESC LIMIT 1
        """,
        phone,
        desa_code,
        since,
    )
    return lead_id


async def insert(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        """
        INSERT INTO leads (id, person_key, desa_code, full_name, phone, occupation, channel, received_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
        """,
        row["id"],
        row["person_key"],
        row["desa_code"],
        row["full_name"],
        row["phone"],
        row["occupation"],
        row["channel"],
        row["received_at"],
    )


# ``area`` is a dotted region code (digits and dots only, shared.auth checks), so LIKE sees no wildcard in it.
async def in_area(conn: Conn, area: str | None, desa_code: str | None, limit: int) -> list[asyncpg.Record]:
    """The leads of ``area`` (None: all), of one desa when ``desa_code`` is given, newest first. ``nominated``:
    marked so, or a nomination with the same mobile number was submitted in that desa since the lead came."""
    return await conn.fetch(
        """
        SELECT l.id, l.desa_code, l.full_name, l.phone, l.occupation, l.channel, l.state, l.received_at,
               l.updated_at,
               l.state = 'nominated' OR EXISTS (
                   SELECT 1 FROM nominations n
                   WHERE n.phone = l.phone AND n.desa_code = l.desa_code AND n.submitted_at >= l.received_at
               ) AS nominated
        FROM leads l
        WHERE ($1::text IS NULL OR l.desa_code = $1 OR l.desa_code LIKE $1 || '.%')
          AND ($2::text IS NULL OR l.desa_code = $2)
        ORDER BY l.received_at DESC, l.id LIMIT $3
        """,
        area,
        desa_code,
        limit,
    )


async def desa_of(conn: Conn, lead_id: uuid.UUID) -> str | None:
    desa: str | None = await conn.fetchval("SELECT desa_code FROM leads WHERE id = $1 FOR UPDATE", lead_id)
    return desa


async def mark(conn: Conn, lead_id: uuid.UUID, state: str, by: str) -> None:
    await conn.execute(
        "UPDATE leads SET state = $2, marked_by = $3, updated_at = now() WHERE id = $1", lead_id, state, by
    )
