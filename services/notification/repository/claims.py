"""SQL of the claim reminders' members (issue 15). Never commits: callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from shared.db import Conn


async def record_confirmed(conn: Conn, members: Sequence[tuple[uuid.UUID, str, str, str, str | None, date]]) -> None:
    """``(nomination, person key, phone, membership number, desa, coverage start)``: the earliest cover start stays;
    a confirmation starting after a recorded end (a restored or renewed seat) makes the member covered again."""
    if not members:
        return
    await conn.executemany(
        """
        INSERT INTO claim_members (nomination_id, person_key, phone, membership_number, desa_code, coverage_start)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (nomination_id) DO UPDATE SET
            phone = excluded.phone, membership_number = excluded.membership_number,
            coverage_start = least(claim_members.coverage_start, excluded.coverage_start),
            ended_on = CASE WHEN excluded.coverage_start > claim_members.ended_on THEN NULL
                            ELSE claim_members.ended_on END,
            updated_at = now()
        """,
        members,
    )


async def record_ended(conn: Conn, ends: Sequence[tuple[uuid.UUID, str, str, str, str | None, date]]) -> None:
    """``(nomination, person key, phone, membership number, desa, last day covered)``; an end read before its
    confirmation makes a row that the confirmation completes (its cover start is then the earlier date)."""
    if not ends:
        return
    await conn.executemany(
        """
        INSERT INTO claim_members (nomination_id, person_key, phone, membership_number, desa_code, coverage_start,
                                   ended_on)
        VALUES ($1, $2, $3, $4, $5, $6, $6)
        ON CONFLICT (nomination_id) DO UPDATE SET
            ended_on = greatest(claim_members.ended_on, excluded.ended_on), updated_at = now()
        """,
        ends,
    )


async def mark_reminded(conn: Conn, reminded: Sequence[tuple[uuid.UUID, date]]) -> None:
    if reminded:
        await conn.executemany(
            "UPDATE claim_members SET last_reminded_on = greatest(last_reminded_on, $2), updated_at = now()"
            " WHERE nomination_id = $1",
            reminded,
        )


async def candidates(conn: Conn, today: date, after: uuid.UUID | None, limit: int) -> list[dict[str, Any]]:
    """Covered members not reminded in the last 300 days (the domain decides which are due), in id order from
    ``after`` on, locked against a second replica."""
    rows = await conn.fetch(
        """
        SELECT nomination_id, person_key, phone, membership_number, desa_code, coverage_start, ended_on,
               last_reminded_on
        FROM claim_members
        WHERE ended_on IS NULL AND coverage_start <= $1::date - 300
          AND (last_reminded_on IS NULL OR last_reminded_on <= $1::date - 300)
          AND ($2::uuid IS NULL OR nomination_id > $2)
        ORDER BY nomination_id LIMIT $3 FOR UPDATE SKIP LOCKED
        """,
        today,
        after,
        limit,
    )
    return [dict(r) for r in rows]
