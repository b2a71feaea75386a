"""SQL of the remedies of upheld objections (sanggahan): a restored seat or a waitlist place ahead. Never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from shared.db import Conn


async def claim(conn: Conn, objection_id: uuid.UUID, nomination_id: uuid.UUID, event_id: uuid.UUID) -> bool:
    """Record that this objection is being remedied; False when it was already (a replay: nothing twice)."""
    done = await conn.fetchval(
        """
        INSERT INTO objection_remedies (objection_id, nomination_id, outcome, source_event_id)
        VALUES ($1, $2, 'pending', $3) ON CONFLICT (objection_id) DO NOTHING RETURNING true
        """,
        objection_id,
        nomination_id,
        event_id,
    )
    return bool(done)


async def settle(
    conn: Conn, objection_id: uuid.UUID, outcome: str, year: int | None = None, source: str | None = None
) -> None:
    await conn.execute(
        "UPDATE objection_remedies SET outcome = $2, programme_year = $3, funding_source = $4 WHERE objection_id = $1",
        objection_id,
        outcome,
        year,
        source,
    )


async def latest_seat(conn: Conn, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    """The nomination's latest seat (any status), locked: the one an objection against its end is about."""
    return await conn.fetchrow(
        """
        SELECT nomination_id, nik, person_key, funding_source, programme_year, membership_number, status,
               end_reason, payload, arrival, enrolled_at
        FROM seats WHERE nomination_id = $1 ORDER BY programme_year DESC LIMIT 1 FOR UPDATE
        """,
        nomination_id,
    )


async def live_holding(conn: Conn, nik: str) -> bool:
    """The person holds a live seat or a waiting place (under another nomination, e.g. nominated again)."""
    return bool(
        await conn.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM seats WHERE nik = $1 AND status IN ('pending_bpjs', 'active'))
                OR EXISTS (SELECT 1 FROM waitlist WHERE nik = $1 AND promoted_at IS NULL AND removed_at IS NULL)
            """,
            nik,
        )
    )


async def wait_ahead(
    conn: Conn, seat: Any, year: int, position: int, objection_id: uuid.UUID, cause: uuid.UUID, now: datetime
) -> int:
    """A waitlist place ahead of the regular ones (key ``position``); answers the member's rank in the year."""
    await conn.execute(
        """
        INSERT INTO waitlist (position, nomination_id, nik, person_key, programme_year, payload, causation_id,
                              waitlisted_at, restored_by_objection, kept_number)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (nomination_id) DO UPDATE SET
            position = EXCLUDED.position, programme_year = EXCLUDED.programme_year, payload = EXCLUDED.payload,
            causation_id = EXCLUDED.causation_id, waitlisted_at = EXCLUDED.waitlisted_at, promoted_at = NULL,
            removed_at = NULL, removal_reason = NULL, restored_by_objection = EXCLUDED.restored_by_objection,
            kept_number = EXCLUDED.kept_number
        """,
        position,
        seat["nomination_id"],
        seat["nik"],
        seat["person_key"],
        year,
        seat["payload"],
        cause,
        now,
        objection_id,
        seat["membership_number"],
    )
    await conn.execute(
        """
        INSERT INTO waitlist_years (programme_year, waiting) VALUES ($1, 1)
        ON CONFLICT (programme_year) DO UPDATE SET waiting = waitlist_years.waiting + 1
        """,
        year,
    )
    rank = await conn.fetchval(
        """
        SELECT count(*) FROM waitlist WHERE programme_year = $1 AND promoted_at IS NULL AND removed_at IS NULL
          AND position <= $2
        """,
        year,
        position,
    )
    return int(rank)
