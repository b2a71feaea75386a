"""SQL of the nominator's portal (the area's nominations, a rejected request to correct). Never commits."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from shared.db import Conn


async def list_in_area(conn: Conn, area: str | None, limit: int = 200) -> list[asyncpg.Record]:
    """The area's latest nominations, newest first, with whether a letter is stored and the state and deadline of
    the latest objection (sanggahan), if any."""
    return await conn.fetch(
        """
        SELECT n.id, n.full_name, n.desa_code, n.status, n.outcome, n.progress, n.submitted_at,
               (l.nomination_id IS NOT NULL) AS has_letter, o.state AS objection_state, o.due_by AS objection_due_by
        FROM nominations n LEFT JOIN nomination_letters l ON l.nomination_id = n.id
        LEFT JOIN LATERAL (
            SELECT state, due_by FROM objections WHERE nomination_id = n.id ORDER BY filed_at DESC LIMIT 1
        ) o ON true
        WHERE ($1::text IS NULL OR n.desa_code = $1 OR n.desa_code LIKE $1 || '.%')
        ORDER BY n.submitted_at DESC LIMIT $2
        """,
        area,
        limit,
    )


async def request_of(conn: Conn, nomination_id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """
        SELECT nik, full_name, birth_date, sex, phone, address, occupation, nominator, supporting_letter, outcome,
               desa_code
        FROM nominations WHERE id = $1
        """,
        nomination_id,
    )
    return None if row is None else dict(row)
