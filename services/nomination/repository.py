"""SQL of the nomination service. Functions take a connection inside the caller's transaction and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import asyncpg

from services.nomination.domain import Progress


async def insert(conn: asyncpg.Connection, row: dict[str, Any]) -> None:
    """Raises ``asyncpg.UniqueViolationError`` when the person already has a live nomination."""
    await conn.execute(
        """
        INSERT INTO nominations (id, person_key, nik, full_name, birth_date, sex, phone, address, desa_code,
                                 occupation, nominator, supporting_letter, progress)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        """,
        row["id"],
        row["person_key"],
        row["nik"],
        row["full_name"],
        row["birth_date"],
        row["sex"],
        row["phone"],
        row["address"],
        row["desa_code"],
        row["occupation"],
        row["nominator"],
        row["supporting_letter"],
        _progress_json(Progress()),
    )


async def live_nomination_of(conn: asyncpg.Connection, person_key: str) -> uuid.UUID | None:
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT id FROM nominations WHERE person_key = $1 AND outcome IS DISTINCT FROM 'rejected'", person_key
    )


async def get(conn: asyncpg.Connection | asyncpg.Pool, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, status, outcome, progress, desa_code, occupation, nominator, submitted_at, updated_at
        FROM nominations WHERE id = $1
        """,
        nomination_id,
    )


async def history(conn: asyncpg.Connection | asyncpg.Pool, nomination_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT stage, detail, occurred_at FROM nomination_history
        WHERE nomination_id = $1 ORDER BY occurred_at, recorded_at
        """,
        nomination_id,
    )


async def lock_progress(conn: asyncpg.Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Progress]:
    rows = await conn.fetch(
        "SELECT id, progress FROM nominations WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", list(set(ids))
    )
    return {r["id"]: _progress_from_json(r["progress"]) for r in rows}


async def save_progress(conn: asyncpg.Connection, progress: dict[uuid.UUID, Progress]) -> None:
    await conn.executemany(
        "UPDATE nominations SET progress = $2, status = $3, outcome = $4, updated_at = now() WHERE id = $1",
        [(nid, _progress_json(p), p.status, p.outcome) for nid, p in progress.items()],
    )


async def add_history(
    conn: asyncpg.Connection, rows: Sequence[tuple[uuid.UUID, uuid.UUID, str, dict[str, Any], datetime]]
) -> None:
    """Rows of (nomination id, event id, stage, detail, occurred at)."""
    await conn.executemany(
        """
        INSERT INTO nomination_history (nomination_id, event_id, stage, detail, occurred_at)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
        """,
        rows,
    )


async def idempotent_answer(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT request_hash, nomination_id FROM idempotency_keys WHERE key = $1", key)


async def remember_answer(conn: asyncpg.Connection, key: str, request_hash: str, nomination_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (key, request_hash, nomination_id) VALUES ($1, $2, $3)",
        key,
        request_hash,
        nomination_id,
    )


async def counts_by_status(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM nominations GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def counts_by_outcome(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, dict[str, int]]:
    """Per outcome (``pending`` while undecided): how many, and how many of those were told so."""
    rows = await conn.fetch(
        """
        SELECT coalesce(outcome, 'pending') AS outcome, count(*) AS total,
               count(*) FILTER (WHERE status = 'notified') AS notified
        FROM nominations GROUP BY 1
        """
    )
    return {r["outcome"]: {"total": r["total"], "notified": r["notified"]} for r in rows}


async def rejection_counts(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, int]:
    rows = await conn.fetch(
        """
        SELECT reason->>'code' AS code, count(*) AS n
        FROM nominations, jsonb_array_elements(progress->'reasons') AS reason
        WHERE outcome = 'rejected' GROUP BY 1 ORDER BY 2 DESC
        """
    )
    return {r["code"]: r["n"] for r in rows}


def _progress_json(progress: Progress) -> dict[str, Any]:
    data = asdict(progress)
    data["notified_purposes"] = sorted(progress.notified_purposes)
    data["reasons"] = list(progress.reasons)
    return data


def _progress_from_json(data: dict[str, Any]) -> Progress:
    if not data:
        return Progress()
    return Progress(
        **{**data, "reasons": tuple(data["reasons"]), "notified_purposes": frozenset(data["notified_purposes"])}
    )
