"""SQL of the review queue (cases a Disnaker verifier decides) and its audit trail. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from typing import Any

import asyncpg

from shared.db import Conn


@dataclass(frozen=True)
class ReviewRow:
    nomination_id: uuid.UUID
    person_key: str
    layer: str
    desa_code: str
    reasons: list[dict[str, str]]
    evidence: list[dict[str, Any]]
    envelope: Any  # the NominationSubmitted envelope as JSON
    record: dict[str, Any]
    name_score: float | None
    flags: list[dict[str, str]]


async def insert_reviews(conn: Conn, rows: Sequence[ReviewRow]) -> None:
    await conn.executemany(
        """
        INSERT INTO reviews (nomination_id, person_key, layer, desa_code, reasons, evidence, envelope, record,
                             name_score, flags)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        [astuple(r) for r in rows],
    )


async def list_reviews(
    conn: Conn | asyncpg.Pool,
    status: str,
    desa_code: str | None,
    after_id: int,
    limit: int,
    area: str | None = None,
    reason_code: str | None = None,
) -> list[asyncpg.Record]:
    """Cases by id (oldest first), optionally of one desa, of one area (a kecamatan: its desa) and with one
    reason code; ``after_id`` pages on."""
    return await conn.fetch(
        """
        SELECT id, nomination_id, layer, status, desa_code, reasons, created_at, decided_at FROM reviews
        WHERE status = $1 AND ($2::text IS NULL OR desa_code = $2) AND id > $3
          AND ($5::text IS NULL OR desa_code = $5 OR desa_code LIKE $5 || '.%')
          AND ($6::text IS NULL OR reasons @> jsonb_build_array(jsonb_build_object('code', $6::text)))
        ORDER BY id LIMIT $4
        """,
        status,
        desa_code,
        after_id,
        limit,
        area,
        reason_code,
    )


async def get_review(conn: Conn | asyncpg.Pool, review_id: int, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM reviews WHERE id = $1 FOR UPDATE", review_id)
    return await conn.fetchrow("SELECT * FROM reviews WHERE id = $1", review_id)


async def other_records(conn: Conn | asyncpg.Pool, nomination_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """The verified records a case is compared with (the evidence's other side)."""
    return await conn.fetch(
        """
        SELECT nomination_id, nik, full_name, birth_date, no_kk, desa_code, decided_at FROM verifications
        WHERE nomination_id = ANY($1::uuid[])
        """,
        list(nomination_ids),
    )


async def close_review(conn: Conn, review_id: int, status: str) -> None:
    await conn.execute(
        "UPDATE reviews SET status = $2, decided_at = now(), version = version + 1 WHERE id = $1", review_id, status
    )


async def audit_decision(
    conn: Conn,
    review_id: int,
    decision: str,
    reason_code: str | None,
    note: str,
    reviewer: str,
    event_id: uuid.UUID,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO review_decisions (review_id, decision, reason_code, note, reviewer, event_id)
        VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, decided_at
        """,
        review_id,
        decision,
        reason_code,
        note,
        reviewer,
        event_id,
    )
    assert row is not None
    return row


async def decisions_of(conn: Conn | asyncpg.Pool, review_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT decision, reason_code, note, reviewer, decided_at, event_id FROM review_decisions "
        "WHERE review_id = $1 ORDER BY id",
        review_id,
    )
