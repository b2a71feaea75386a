"""SQL of a seat's life after allocation: BPJS answers, ending, promotion from the waitlist, the audit, renewal.

Functions take a connection and never commit. Anything that changes ``funding_sources.used`` or the waitlist runs
after ``lock_year`` (the same (priority, code) row order as the allocation batches, so no deadlocks).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.enrolment.domain import SourceState
from shared.db import Conn


@dataclass(frozen=True)
class ChangeRow:
    nomination_id: uuid.UUID
    programme_year: int
    change: str
    reason: str | None
    effective_date: date | None
    note: str | None
    recorded_by: str
    source_event_id: uuid.UUID | None


async def lock_year(conn: Conn, year: int) -> tuple[list[SourceState], dict[str, str]]:
    """Every source row of the year, locked; with each source's name (for the messages)."""
    rows = await conn.fetch(
        """
        SELECT code, name, quota, used, priority FROM funding_sources WHERE programme_year = $1
        ORDER BY priority, code FOR UPDATE
        """,
        year,
    )
    return [SourceState(r["code"], r["quota"], r["used"], r["priority"]) for r in rows], {
        r["code"]: r["name"] for r in rows
    }


async def add_used(conn: Conn, year: int, deltas: Mapping[str, int]) -> None:
    deltas = {code: d for code, d in deltas.items() if d}
    if not deltas:
        return
    await conn.execute(
        """
        UPDATE funding_sources f SET used = f.used + d.delta, updated_at = now()
        FROM unnest($2::text[], $3::int[]) AS d(code, delta) WHERE f.programme_year = $1 AND f.code = d.code
        """,
        year,
        list(deltas),
        list(deltas.values()),
    )


_SEAT_COLUMNS = """nomination_id, nik, person_key, funding_source, programme_year, membership_number,
    membership_issuer, coverage_start, coverage_end, status, promoted, payload, enrolled_at, restored_by_objection"""


async def live_seat(conn: Conn, nomination_id: uuid.UUID, *, lock: bool) -> asyncpg.Record | None:
    """The nomination's seat that is pending or active (at most one, whatever the year)."""
    query = f"SELECT {_SEAT_COLUMNS} FROM seats WHERE nomination_id = $1 AND status IN ('pending_bpjs', 'active')"  # noqa: S608
    return await conn.fetchrow(query + (" FOR UPDATE" if lock else ""), nomination_id)


async def end_seat(
    conn: Conn, nomination_id: uuid.UUID, year: int, status: str, reason: str, coverage_end: date | None
) -> None:
    await conn.execute(
        """
        UPDATE seats SET status = $3, end_reason = $4, coverage_end = $5, ended_at = now()
        WHERE nomination_id = $1 AND programme_year = $2
        """,
        nomination_id,
        year,
        status,
        reason,
        coverage_end,
    )


async def insert_changes(conn: Conn, changes: Sequence[ChangeRow]) -> None:
    if not changes:
        return
    await conn.executemany(
        """
        INSERT INTO enrolment_changes (nomination_id, programme_year, change, reason, effective_date, note,
                                       recorded_by, source_event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        [
            (c.nomination_id, c.programme_year, c.change, c.reason, c.effective_date, c.note, c.recorded_by,
             c.source_event_id)
            for c in changes
        ],
    )  # fmt: skip


# --- the waitlist -------------------------------------------------------------------------------------------------


async def waiting_heads(conn: Conn, year: int, limit: int) -> list[asyncpg.Record]:
    """The first ``limit`` people waiting in the year, in arrival order (restored members first: negative keys)."""
    if limit <= 0:
        return []
    return await conn.fetch(
        """
        SELECT position, nomination_id, nik, person_key, payload, causation_id, restored_by_objection, kept_number
        FROM waitlist
        WHERE programme_year = $1 AND promoted_at IS NULL AND removed_at IS NULL
        ORDER BY position LIMIT $2 FOR UPDATE
        """,
        year,
        limit,
    )


async def leave_waitlist(
    conn: Conn, nomination_ids: Sequence[uuid.UUID], now: datetime, removal_reason: str | None = None
) -> dict[int, int]:
    """Mark people as promoted (``removal_reason`` None) or removed, and keep ``waitlist_years`` in step.

    Returns how many left per year. Only entries still waiting change, so a repeated call changes nothing.
    """
    column = "promoted_at" if removal_reason is None else "removed_at"
    rows = await conn.fetch(
        f"""
        UPDATE waitlist SET {column} = $2, removal_reason = coalesce($3, removal_reason)
        WHERE nomination_id = ANY($1::uuid[]) AND promoted_at IS NULL AND removed_at IS NULL
        RETURNING programme_year
        """,  # noqa: S608 (only constant column lists are formatted in)
        list(nomination_ids),
        now,
        removal_reason,
    )
    by_year: dict[int, int] = {}
    for r in rows:
        by_year[r["programme_year"]] = by_year.get(r["programme_year"], 0) + 1
    await _add_waiting(conn, {y: -n for y, n in by_year.items()})
    return by_year


async def _add_waiting(conn: Conn, deltas: Mapping[int, int]) -> None:
    up = {y: d for y, d in deltas.items() if d > 0}
    down = {y: -d for y, d in deltas.items() if d < 0}
    if up:
        await conn.execute(
            """
            INSERT INTO waitlist_years (programme_year, waiting) SELECT * FROM unnest($1::int[], $2::int[])
            ON CONFLICT (programme_year) DO UPDATE SET waiting = waitlist_years.waiting + excluded.waiting
            """,
            list(up),
            list(up.values()),
        )
    if down:
        # A plain UPDATE: an INSERT of a negative count would fail the CHECK before ON CONFLICT is considered.
        await conn.execute(
            """
            UPDATE waitlist_years w SET waiting = w.waiting - d.n
            FROM unnest($1::int[], $2::int[]) AS d(programme_year, n) WHERE w.programme_year = d.programme_year
            """,
            list(down),
            list(down.values()),
        )


async def waiting_entry(conn: Conn, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT programme_year FROM waitlist WHERE nomination_id = $1 AND promoted_at IS NULL AND removed_at IS NULL
        """,
        nomination_id,
    )


async def carry_waitlist(conn: Conn, from_year: int, to_year: int) -> int:
    """Move the people still waiting in ``from_year`` to ``to_year``, keeping their arrival order."""
    moved = int(
        await conn.fetchval(
            """
            WITH m AS (UPDATE waitlist SET programme_year = $2
                       WHERE programme_year = $1 AND promoted_at IS NULL AND removed_at IS NULL RETURNING 1)
            SELECT count(*) FROM m
            """,
            from_year,
            to_year,
        )
    )
    await _add_waiting(conn, {from_year: -moved, to_year: moved} if moved else {})
    return moved


# --- BPJS answers -------------------------------------------------------------------------------------------------


async def pending_seats(conn: Conn, nomination_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """These nominations' seats still waiting for BPJS, locked."""
    return await conn.fetch(
        f"""
        SELECT {_SEAT_COLUMNS} FROM seats WHERE nomination_id = ANY($1::uuid[]) AND status = 'pending_bpjs'
        ORDER BY arrival FOR UPDATE
        """,  # noqa: S608 (only constant column lists are formatted in)
        list(nomination_ids),
    )


async def confirm_seat(conn: Conn, nomination_id: uuid.UUID, year: int, number: str, issuer: str) -> None:
    await conn.execute(
        """
        UPDATE seats SET status = 'active', membership_number = $3, membership_issuer = $4, confirmed_at = now()
        WHERE nomination_id = $1 AND programme_year = $2
        """,
        nomination_id,
        year,
        number,
        issuer,
    )


async def refuse_seat(conn: Conn, nomination_id: uuid.UUID, year: int, code: str, text: str) -> None:
    await conn.execute(
        """
        UPDATE seats SET status = 'refused', end_reason = 'bpjs_refused', bpjs_refusal_code = $3,
                         bpjs_refusal_text = $4, ended_at = now()
        WHERE nomination_id = $1 AND programme_year = $2
        """,
        nomination_id,
        year,
        code,
        text,
    )


async def claim_due_pending(conn: Conn, limit: int, lease_s: float) -> list[asyncpg.Record]:
    """Pending seats due for a (re)send, pushed ``lease_s`` into the future so no other registrar takes them;
    in the order they were given (UPDATE ... RETURNING has no order of its own)."""
    rows = await conn.fetch(
        f"""
        UPDATE seats SET bpjs_next_attempt = now() + make_interval(secs => $2), bpjs_attempts = bpjs_attempts + 1
        WHERE (nomination_id, programme_year) IN (
            SELECT nomination_id, programme_year FROM seats
            WHERE status = 'pending_bpjs' AND bpjs_next_attempt <= now()
            ORDER BY bpjs_next_attempt, arrival LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING {_SEAT_COLUMNS}, bpjs_attempts, arrival
        """,  # noqa: S608 (only constant column lists are formatted in)
        limit,
        lease_s,
    )
    return sorted(rows, key=lambda r: r["arrival"])


async def postpone_pending(
    conn: Conn | asyncpg.Pool, nomination_ids: Sequence[uuid.UUID], delay_s: float, error: str
) -> None:
    await conn.execute(
        """
        UPDATE seats SET bpjs_next_attempt = now() + make_interval(secs => $2), bpjs_last_error = $3
        WHERE nomination_id = ANY($1::uuid[]) AND status = 'pending_bpjs'
        """,
        list(nomination_ids),
        delay_s,
        error,
    )


async def roster(conn: Conn | asyncpg.Pool, first: date, last: date) -> list[asyncpg.Record]:
    """Seats waiting for BPJS whose cover starts between ``first`` and ``last``: a month's registrations."""
    return await conn.fetch(
        f"""
        SELECT {_SEAT_COLUMNS} FROM seats
        WHERE status = 'pending_bpjs' AND coverage_start BETWEEN $1 AND $2 ORDER BY arrival
        """,  # noqa: S608 (only constant column lists are formatted in)
        first,
        last,
    )


# --- renewal -------------------------------------------------------------------------------------------


async def renewable_seats(conn: Conn, year: int) -> list[asyncpg.Record]:
    """The year's active seats, earliest seated first, locked."""
    return await conn.fetch(
        f"""
        SELECT {_SEAT_COLUMNS} FROM seats WHERE programme_year = $1 AND status = 'active'
        ORDER BY arrival FOR UPDATE
        """,  # noqa: S608 (only constant column lists are formatted in)
        year,
    )


async def count_pending(conn: Conn, year: int) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM seats WHERE programme_year = $1 AND status = 'pending_bpjs'", year)
    )


async def renew_seats(conn: Conn, from_year: int, to_year: int, sources: Mapping[uuid.UUID, str], start: date) -> None:
    """Close the from-year rows (status ``renewed``, covered to 31 December) and open the to-year rows with the
    same person, number and issuer. The old row is closed first: the live-NIK unique index sees one live row."""
    ids = list(sources)
    await conn.execute(
        """
        UPDATE seats SET status = 'renewed', coverage_end = make_date($2, 12, 31), ended_at = now()
        WHERE nomination_id = ANY($1::uuid[]) AND programme_year = $2 AND status = 'active'
        """,
        ids,
        from_year,
    )
    await conn.execute(
        """
        INSERT INTO seats (nomination_id, nik, person_key, funding_source, programme_year, membership_number,
                           membership_issuer, coverage_start, enrolled_at, status, confirmed_at, promoted, payload,
                           arrival)
        SELECT s.nomination_id, s.nik, s.person_key, n.source, $3, s.membership_number, s.membership_issuer,
               greatest(s.coverage_start, $4::date), s.enrolled_at, 'active', s.confirmed_at, s.promoted, s.payload,
               s.arrival
        FROM seats s JOIN unnest($1::uuid[], $5::text[]) AS n(nomination_id, source) USING (nomination_id)
        WHERE s.programme_year = $2
        """,
        ids,
        from_year,
        to_year,
        start,
        list(sources.values()),
    )


async def pending_seats_unlocked(conn: Conn, nomination_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    """Which years the answers concern, read before taking the years' locks (re-read under them)."""
    return await conn.fetch(
        """
        SELECT nomination_id, programme_year FROM seats
        WHERE nomination_id = ANY($1::uuid[]) AND status = 'pending_bpjs'
        """,
        list(nomination_ids),
    )
