"""SQL of objections (sanggahan) and their evidence files. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.nomination.domain.objections import ObjectionSummary
from shared.db import Conn


async def latest(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> ObjectionSummary | None:
    """The nomination's latest objection (its id, state and deadline), or None."""
    row = await conn.fetchrow(
        "SELECT id, state, due_by FROM objections WHERE nomination_id = $1 ORDER BY filed_at DESC, id LIMIT 1",
        nomination_id,
    )
    return None if row is None else ObjectionSummary(row["id"], row["state"], row["due_by"])


async def of_nomination(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every objection of a nomination, oldest first (no evidence content)."""
    return await conn.fetch(
        """
        SELECT o.id, o.ground, o.filed_by, o.channel, o.reason_code, o.reason_text, o.state, o.note, o.filed_at,
               o.due_by, o.reviewed_at, o.decided_at,
               (SELECT count(*) FROM objection_evidence e WHERE e.objection_id = o.id) AS evidence_files
        FROM objections o WHERE o.nomination_id = $1 ORDER BY o.filed_at, o.id
        """,
        nomination_id,
    )


def summaries(rows: Sequence[asyncpg.Record]) -> list[ObjectionSummary]:
    return [ObjectionSummary(r["id"], r["state"], r["due_by"]) for r in rows]


async def nomination_for_objection(conn: Conn, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    """What an objection needs of its nomination (its row locked until the transaction ends: two filings for the
    same nomination wait for each other), and whether the person was nominated again since."""
    return await conn.fetchrow(
        """
        SELECT n.id, n.person_key, n.outcome, n.desa_code, n.full_name, n.phone, n.nominator,
               EXISTS (SELECT 1 FROM nominations m WHERE m.person_key = n.person_key AND m.id <> n.id
                       AND m.submitted_at >= n.submitted_at) AS newer
        FROM nominations n WHERE n.id = $1 FOR UPDATE OF n
        """,
        nomination_id,
    )


async def insert(conn: Conn, row: dict[str, Any], evidence: Sequence[tuple[int, str, str, str, bytes]]) -> None:
    """An objection and its evidence files, as (position, filename, content type, sha256, content)."""
    await conn.execute(
        """
        INSERT INTO objections (id, nomination_id, ground, filed_by, channel, reason_code, reason_text,
                                filed_by_principal, filed_at, due_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        row["id"],
        row["nomination_id"],
        row["ground"],
        row["filed_by"],
        row["channel"],
        row["reason_code"],
        row["reason_text"],
        row["filed_by_principal"],
        row["filed_at"],
        row["due_by"],
    )
    if evidence:
        await conn.executemany(
            """
            INSERT INTO objection_evidence (objection_id, position, filename, content_type, sha256, size_bytes,
                                            content)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [(row["id"], pos, name, media, sha, len(content), content) for pos, name, media, sha, content in evidence],
        )


async def lock(conn: Conn, objection_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, nomination_id, state FROM objections WHERE id = $1 FOR UPDATE", objection_id)


async def review(conn: Conn, objection_id: uuid.UUID, state: str, note: str, reviewed_at: datetime) -> None:
    """Record verification's report; a decision also starts the evidence's retention clock."""
    decided = state in ("upheld", "dismissed")
    await conn.execute(
        """
        UPDATE objections SET state = $2, note = $3, reviewed_at = $4,
                              decided_at = CASE WHEN $5 THEN coalesce(decided_at, now()) ELSE decided_at END
        WHERE id = $1
        """,
        objection_id,
        state,
        note,
        reviewed_at,
        decided,
    )
    if decided:
        await conn.execute(
            "UPDATE objection_evidence SET decided_at = coalesce(decided_at, now()) WHERE objection_id = $1",
            objection_id,
        )
