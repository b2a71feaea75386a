"""SQL of the objections (sanggahan) queue, their evidence and the re-run of an upheld one. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from shared.db import Conn

_DECISION = """
    SELECT v.nomination_id, v.person_key, v.outcome, v.reasons, v.checks, v.submitted, v.nik,
           r.envelope AS review_envelope, r.reasons AS review_reasons
    FROM verifications v LEFT JOIN reviews r ON r.nomination_id = v.nomination_id
    WHERE v.nomination_id = $1
"""


async def decision_of(conn: Conn, nomination_id: uuid.UUID, lock: bool = False) -> asyncpg.Record | None:
    """The decision an objection is about, with what a re-run needs (its submission, a review case's). ``lock``:
    the decision's row is held until the transaction ends (two objections of one nomination upheld at once:
    the second re-run sees the first's result, never the rejection both objected to)."""
    if lock:
        return await conn.fetchrow(_DECISION + " FOR UPDATE OF v", nomination_id)
    return await conn.fetchrow(_DECISION, nomination_id)


async def insert_objection(conn: Conn, row: dict[str, Any], evidence: Sequence[tuple[Any, ...]]) -> bool:
    """Insert a new case and its evidence; False when the objection id is known (a replay under a new event id)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO objections (objection_id, nomination_id, person_key, ground, reason_code, reason_text, filed_by,
                                channel, filed_at, due_by, desa_code, filed, objected, source_event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        ON CONFLICT (objection_id) DO NOTHING RETURNING true
        """,
        *(
            row[k]
            for k in (
                "objection_id nomination_id person_key ground reason_code reason_text filed_by channel filed_at "
                "due_by desa_code filed objected source_event_id"
            ).split()
        ),
    )
    if not inserted:
        return False
    await conn.executemany(
        "INSERT INTO objection_evidence (objection_id, position, filename, content_type, sha256, data) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        list(evidence),
    )
    return True


async def queue(conn: Conn | asyncpg.Pool, state: str, limit: int) -> list[asyncpg.Record]:
    """Cases by deadline, oldest first (open: received and in review)."""
    states = ["received", "in_review"] if state == "open" else [state]
    return await conn.fetch(
        """
        SELECT objection_id, nomination_id, ground, reason_code, state, due_by, filed_at, desa_code, taken_by,
               decided_at, version
        FROM objections WHERE state = ANY($1::text[]) ORDER BY due_by, filed_at, objection_id LIMIT $2
        """,
        states,
        limit,
    )


async def get(conn: Conn | asyncpg.Pool, objection_id: uuid.UUID, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM objections WHERE objection_id = $1 FOR UPDATE", objection_id)
    return await conn.fetchrow("SELECT * FROM objections WHERE objection_id = $1", objection_id)


async def evidence_list(conn: Conn | asyncpg.Pool, objection_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT position, filename, content_type, sha256, length(data) AS size FROM objection_evidence "
        "WHERE objection_id = $1 ORDER BY position",
        objection_id,
    )


async def evidence(conn: Conn | asyncpg.Pool, objection_id: uuid.UUID, position: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT e.filename, e.content_type, e.data, o.desa_code FROM objection_evidence e "
        "JOIN objections o USING (objection_id) WHERE e.objection_id = $1 AND e.position = $2",
        objection_id,
        position,
    )


async def take_up(conn: Conn, objection_id: uuid.UUID, reviewer: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        UPDATE objections SET state = 'in_review', taken_by = $2, taken_at = now(), version = version + 1
        WHERE objection_id = $1 RETURNING taken_at, version
        """,
        objection_id,
        reviewer,
    )
    assert row is not None
    return row


async def close(
    conn: Conn,
    objection_id: uuid.UUID,
    state: str,
    reviewer: str,
    note: str,
    waived: list[str],
    result_event_id: uuid.UUID | None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        UPDATE objections SET state = $2, decided_by = $3, decided_at = now(), note = $4, waived = $5,
                              result_event_id = $6, version = version + 1
        WHERE objection_id = $1 RETURNING decided_at, version
        """,
        objection_id,
        state,
        reviewer,
        note,
        waived,
        result_event_id,
    )
    assert row is not None
    await conn.execute("UPDATE objection_evidence SET decided = true WHERE objection_id = $1", objection_id)
    return row


async def rerun_decision(conn: Conn, nomination_id: uuid.UUID, values: dict[str, Any]) -> None:
    """A rejected nomination decided again (an upheld objection): its row takes the new decision."""
    await conn.execute(
        """
        UPDATE verifications SET outcome = $2, reasons = $3, flags = $4, checks = $5, name_score = $6,
               registry_snapshot_id = $7, event_id = $8, full_name = $9, name_key = $10, birth_date = $11,
               no_kk = $12, decided_at = now(), updated_at = now()
        WHERE nomination_id = $1 AND outcome = 'rejected'
        """,
        nomination_id,
        *(
            values[k]
            for k in (
                "outcome reasons flags checks name_score registry_snapshot_id event_id full_name name_key "
                "birth_date no_kk"
            ).split()
        ),
    )


async def reopen_review(conn: Conn, row: Any) -> None:
    """A re-run that needs a verifier again: a new case, or the nomination's old (closed) case opened anew."""
    await conn.execute(
        """
        INSERT INTO reviews (nomination_id, person_key, layer, desa_code, reasons, evidence, envelope, record,
                             name_score, flags)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (nomination_id) DO UPDATE SET status = 'open', layer = EXCLUDED.layer,
            reasons = EXCLUDED.reasons, evidence = EXCLUDED.evidence, record = EXCLUDED.record,
            name_score = EXCLUDED.name_score, flags = EXCLUDED.flags, created_at = now(), decided_at = NULL,
            version = reviews.version + 1
        """,
        row.nomination_id,
        row.person_key,
        row.layer,
        row.desa_code,
        row.reasons,
        row.evidence,
        row.envelope,
        row.record,
        row.name_score,
        row.flags,
    )


async def restore_verified(conn: Conn, nomination_id: uuid.UUID, person_key: str) -> bool:
    """An ended member's objection upheld: verified again, unless the person is verified through another
    nomination meanwhile (then that one stands)."""
    done = await conn.fetchval(
        """
        UPDATE verifications SET outcome = 'verified', updated_at = now()
        WHERE nomination_id = $1 AND outcome = 'ended'
          AND NOT EXISTS (SELECT 1 FROM verifications WHERE person_key = $2 AND outcome = 'verified')
        RETURNING true
        """,
        nomination_id,
        person_key,
    )
    return bool(done)
