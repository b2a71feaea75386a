"""SQL of the nomination service. Functions take a connection inside the caller's transaction and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.nomination.domain import Progress
from shared.db import Conn


async def insert(conn: Conn, row: dict[str, Any]) -> None:
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
        _NEW_PROGRESS,
    )


async def insert_many(conn: Conn, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Several nominations in one statement; returns the ids stored.

    A person who already has a live nomination (one committed by a concurrent submission since the caller looked)
    is skipped, after waiting for that transaction, instead of failing the whole batch. Rows go in person-key
    order, so two batches naming the same people wait for each other in one direction only (no deadlock).
    """
    ordered = sorted(rows, key=lambda r: r["person_key"])

    def column(name: str) -> list[Any]:
        return [r[name] for r in ordered]

    def json_column(name: str) -> list[str | None]:
        return [None if r[name] is None else orjson.dumps(r[name]).decode() for r in ordered]

    stored = await conn.fetch(
        """
        INSERT INTO nominations (id, person_key, nik, full_name, birth_date, sex, phone, address, desa_code,
                                 occupation, nominator, supporting_letter, progress)
        SELECT id, person_key, nik, full_name, birth_date, sex, phone, address::jsonb, desa_code, occupation,
               nominator::jsonb, supporting_letter::jsonb, $13::text::jsonb
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[], $7::text[], $8::text[],
                    $9::text[], $10::text[], $11::text[], $12::text[])
             AS r (id, person_key, nik, full_name, birth_date, sex, phone, address, desa_code, occupation, nominator,
                   supporting_letter)
        ON CONFLICT (person_key) WHERE outcome IS NULL OR outcome IN ('waitlisted', 'enrolled') DO NOTHING
        RETURNING id
        """,
        column("id"),
        column("person_key"),
        column("nik"),
        column("full_name"),
        column("birth_date"),
        column("sex"),
        column("phone"),
        json_column("address"),
        column("desa_code"),
        column("occupation"),
        json_column("nominator"),
        json_column("supporting_letter"),
        orjson.dumps(_NEW_PROGRESS).decode(),
    )
    return {r["id"] for r in stored}


async def live_nominations_of(conn: Conn, person_keys: Sequence[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch(
        """
        SELECT person_key, id FROM nominations
        WHERE person_key = ANY($1::text[]) AND (outcome IS NULL OR outcome IN ('waitlisted', 'enrolled'))
        """,
        list(set(person_keys)),
    )
    return {r["person_key"]: r["id"] for r in rows}


async def live_nomination_of(conn: Conn, person_key: str) -> uuid.UUID | None:
    nomination_id: uuid.UUID | None = await conn.fetchval(
        """
        SELECT id FROM nominations
        WHERE person_key = $1 AND (outcome IS NULL OR outcome IN ('waitlisted', 'enrolled'))
        """,
        person_key,
    )
    return nomination_id


async def get(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT id, status, outcome, progress, desa_code, occupation, nominator, submitted_at, updated_at
        FROM nominations WHERE id = $1
        """,
        nomination_id,
    )


async def history(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT stage, detail, occurred_at FROM nomination_history
        WHERE nomination_id = $1 ORDER BY occurred_at, recorded_at
        """,
        nomination_id,
    )


async def lock_progress(conn: Conn, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Progress]:
    rows = await conn.fetch(
        "SELECT id, progress FROM nominations WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", list(set(ids))
    )
    return {r["id"]: _progress_from_json(r["progress"]) for r in rows}


async def save_progress(conn: Conn, progress: dict[uuid.UUID, Progress]) -> None:
    """One statement per batch (``executemany`` runs one UPDATE per row: a profile hot spot in PostgreSQL)."""
    ids, states, statuses, outcomes = [], [], [], []
    for nomination_id, p in progress.items():
        ids.append(nomination_id)
        states.append(orjson.dumps(_progress_json(p)).decode())
        statuses.append(p.status)
        outcomes.append(p.outcome)
    await conn.execute(
        """
        UPDATE nominations AS n
        SET progress = v.progress::jsonb, status = v.status, outcome = v.outcome, updated_at = now()
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v (id, progress, status, outcome)
        WHERE n.id = v.id
        """,
        ids,
        states,
        statuses,
        outcomes,
    )


async def add_history(conn: Conn, rows: Sequence[tuple[uuid.UUID, uuid.UUID, str, dict[str, Any], datetime]]) -> None:
    """Rows of (nomination id, event id, stage, detail, occurred at), in one statement."""
    if not rows:
        return
    nomination_ids, event_ids, stages, details, occurred = (list(column) for column in zip(*rows, strict=True))
    await conn.execute(
        """
        INSERT INTO nomination_history (nomination_id, event_id, stage, detail, occurred_at)
        SELECT h.nomination_id, h.event_id, h.stage, h.detail::jsonb, h.occurred_at
        FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])
             AS h (nomination_id, event_id, stage, detail, occurred_at)
        ON CONFLICT DO NOTHING
        """,
        nomination_ids,
        event_ids,
        stages,
        [orjson.dumps(d).decode() for d in details],
        occurred,
    )


# Idempotency keys are the caller's own (migration 0003): the same key sent by two callers names two requests.
async def idempotent_answer(conn: Conn, principal: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT request_hash, nomination_id FROM idempotency_keys WHERE principal = $1 AND key = $2", principal, key
    )


async def remember_answer(conn: Conn, principal: str, key: str, request_hash: str, nomination_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO idempotency_keys (principal, key, request_hash, nomination_id) VALUES ($1, $2, $3, $4)",
        principal,
        key,
        request_hash,
        nomination_id,
    )


async def idempotent_answers(conn: Conn, principal: str, keys: Sequence[str]) -> dict[str, tuple[str, uuid.UUID]]:
    rows = await conn.fetch(
        "SELECT key, request_hash, nomination_id FROM idempotency_keys WHERE principal = $1 AND key = ANY($2::text[])",
        principal,
        list(set(keys)),
    )
    return {r["key"]: (r["request_hash"], r["nomination_id"]) for r in rows}


async def remember_answers(conn: Conn, principal: str, rows: Sequence[tuple[str, str, uuid.UUID]]) -> None:
    """Rows of (key, request hash, nomination id) of ``principal``."""
    await conn.executemany(
        "INSERT INTO idempotency_keys (principal, key, request_hash, nomination_id) VALUES ($1, $2, $3, $4)",
        [(principal, *row) for row in rows],
    )


async def desa_codes(conn: Conn, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await conn.fetch("SELECT id, desa_code FROM nominations WHERE id = ANY($1::uuid[])", list(set(ids)))
    return {r["id"]: r["desa_code"] for r in rows}


# The summaries take an optional area (a dotted region code: desa, kecamatan, ...) as $1 and count only the
# nominations in it. Region codes hold digits and dots only (shared.auth checks), so LIKE sees no wildcard in them.
async def counts_by_status(conn: Conn | asyncpg.Pool, area: str | None = None) -> dict[str, int]:
    rows = await conn.fetch(
        """
        SELECT status, count(*) AS n FROM nominations
        WHERE ($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%') GROUP BY status
        """,
        area,
    )
    return {r["status"]: r["n"] for r in rows}


async def counts_by_outcome(conn: Conn | asyncpg.Pool, area: str | None = None) -> dict[str, dict[str, int]]:
    """Per outcome (``pending`` while undecided): how many, and how many of those were told so."""
    rows = await conn.fetch(
        """
        SELECT coalesce(outcome, 'pending') AS outcome, count(*) AS total,
               count(*) FILTER (WHERE status = 'notified') AS notified
        FROM nominations WHERE ($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%') GROUP BY 1
        """,
        area,
    )
    return {r["outcome"]: {"total": r["total"], "notified": r["notified"]} for r in rows}


async def rejection_counts(conn: Conn | asyncpg.Pool, area: str | None = None) -> dict[str, int]:
    rows = await conn.fetch(
        """
        SELECT reason->>'code' AS code, count(*) AS n
        FROM nominations, jsonb_array_elements(progress->'reasons') AS reason
        WHERE outcome = 'rejected' AND ($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%')
        GROUP BY 1 ORDER BY 2 DESC
        """,
        area,
    )
    return {r["code"]: r["n"] for r in rows}


def _progress_json(progress: Progress) -> dict[str, Any]:
    # shallow on purpose: dataclasses.asdict deep-copies every value, and showed up as 15 % of this service's CPU
    data = {f.name: getattr(progress, f.name) for f in _PROGRESS_FIELDS}
    data["notified_purposes"] = sorted(progress.notified_purposes)
    data["reasons"] = list(progress.reasons)
    return data


_PROGRESS_FIELDS = fields(Progress)
_NEW_PROGRESS = _progress_json(Progress())


def _progress_from_json(data: dict[str, Any]) -> Progress:
    if not data:
        return Progress()
    return Progress(
        **{**data, "reasons": tuple(data["reasons"]), "notified_purposes": frozenset(data["notified_purposes"])}
    )


async def desa_and_outcome(conn: Conn, nomination_id: uuid.UUID, lock: bool = False) -> asyncpg.Record | None:
    """Where a nomination lies and whether it is decided (``lock``: the row held until the transaction ends)."""
    if lock:
        return await conn.fetchrow("SELECT desa_code, outcome FROM nominations WHERE id = $1 FOR UPDATE", nomination_id)
    return await conn.fetchrow("SELECT desa_code, outcome FROM nominations WHERE id = $1", nomination_id)


async def with_live_twin(conn: Conn, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Which of these nominations' people have another live nomination (one of the ``nominations_one_live_per_person``
    index: no outcome yet, waitlisted or enrolled)."""
    if not ids:
        return []
    rows = await conn.fetch(
        """
        SELECT n.id FROM nominations n
        WHERE n.id = ANY($1::uuid[]) AND EXISTS (
            SELECT 1 FROM nominations m WHERE m.person_key = n.person_key AND m.id <> n.id
            AND (m.outcome IS NULL OR m.outcome IN ('waitlisted', 'enrolled')))
        """,
        list(ids),
    )
    return [r["id"] for r in rows]
