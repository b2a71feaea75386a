"""SQL of the portal's spreadsheet upload jobs (``upload_jobs``, ``upload_rows``). Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from shared.auth import Principal
from shared.db import Conn


async def unfinished_job(conn: Conn, uploaded_by: str, sha256: str, batch: dict[str, Any]) -> uuid.UUID | None:
    """The same file's unfinished job from the same account with the same nominator and letter, if any."""
    found: uuid.UUID | None = await conn.fetchval(
        """SELECT id FROM upload_jobs WHERE uploaded_by = $1 AND sha256 = $2 AND batch = $3::jsonb
           AND finished_at IS NULL""",
        uploaded_by,
        sha256,
        batch,
    )
    return found


async def insert_job(
    conn: Conn,
    job_id: uuid.UUID,
    principal: Principal,
    kind: str,
    sha256: str,
    content: bytes,
    batch: dict[str, Any],
    rows: Sequence[tuple[int, dict[str, Any] | None, str, list[dict[str, str]]]],
) -> None:
    """The job and its rows, as (row number, request or None, state, errors); finished at once when every row is
    done already (each one the example or a local error)."""
    done = sum(1 for r in rows if r[2] == "done")
    refused = sum(1 for r in rows if r[2] == "done" and r[3])
    await conn.execute(
        """INSERT INTO upload_jobs (id, uploaded_by, role, area, kind, sha256, size_bytes, content, batch, total,
                                    done, refused, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12,
                   CASE WHEN $11::integer = $10::integer THEN now() END)""",
        job_id,
        principal.name,
        str(principal.role),
        principal.area,
        kind,
        sha256,
        len(content),
        content,
        batch,
        len(rows),
        done,
        refused,
    )
    await conn.executemany(
        """INSERT INTO upload_rows (job_id, row_number, request, state, errors)
           VALUES ($1, $2, $3::jsonb, $4, $5::jsonb)""",
        [(job_id, *r) for r in rows],
    )


async def job(conn: Conn, job_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM upload_jobs WHERE id = $1", job_id)


async def job_content(conn: Conn, job_id: uuid.UUID) -> bytes | None:
    content = await conn.fetchval("SELECT content FROM upload_jobs WHERE id = $1", job_id)
    return None if content is None else bytes(content)


async def row_outcomes(conn: Conn, job_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT row_number, nomination_id, replayed, errors FROM upload_rows WHERE job_id = $1", job_id
    )


async def lease_pending(conn: Conn, limit: int, lease: timedelta) -> list[asyncpg.Record]:
    """Up to ``limit`` pending rows nobody holds (or whose holder's lease ran out), leased for ``lease``, with the
    uploader's principal (name, role, area) as ``who``."""
    return await conn.fetch(
        """
        UPDATE upload_rows r SET lease_until = now() + $2::interval, attempts = attempts + 1
        FROM (SELECT job_id, row_number FROM upload_rows
              WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < now())
              ORDER BY job_id, row_number LIMIT $1 FOR UPDATE SKIP LOCKED) p
        WHERE r.job_id = p.job_id AND r.row_number = p.row_number
        RETURNING r.job_id, r.row_number, r.request, r.attempts,
                  (SELECT jsonb_build_object('name', uploaded_by, 'role', role, 'area', area)
                   FROM upload_jobs j WHERE j.id = r.job_id) AS who
        """,
        limit,
        lease,
    )


async def finish_row(
    conn: Conn,
    job_id: uuid.UUID,
    number: int,
    nomination_id: uuid.UUID | None,
    replayed: bool,
    errors: list[dict[str, str]],
) -> bool:
    """Record a pending row's outcome and count it in its job; False when another process finished it meanwhile."""
    changed = await conn.execute(
        """UPDATE upload_rows SET state = 'done', nomination_id = $3, replayed = $4, errors = $5::jsonb,
                  lease_until = NULL
           WHERE job_id = $1 AND row_number = $2 AND state = 'pending'""",
        job_id,
        number,
        nomination_id,
        replayed,
        errors,
    )
    if changed == "UPDATE 0":
        return False
    accepted, refused = (1, 0) if nomination_id else (0, 1)
    await conn.execute(
        """UPDATE upload_jobs SET done = done + 1, accepted = accepted + $2, refused = refused + $3,
                  finished_at = CASE WHEN done + 1 = total THEN now() END
           WHERE id = $1""",
        job_id,
        accepted,
        refused,
    )
    return True


async def purge(conn: Conn, retention_days: int) -> int:
    """Delete the sheet and the rows of jobs finished more than ``retention_days`` ago; gives how many jobs."""
    purged = await conn.fetch(
        """UPDATE upload_jobs SET content = NULL, purged_at = now()
           WHERE finished_at < now() - $1::interval AND purged_at IS NULL RETURNING id""",
        timedelta(days=retention_days),
    )
    ids = [r["id"] for r in purged]
    if ids:
        await conn.execute("DELETE FROM upload_rows WHERE job_id = ANY($1::uuid[])", ids)
    return len(ids)
