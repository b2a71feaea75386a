"""SQL of the self-check: a NIK's nominations by person key, the cover's dates, the lookup log (audit and budget
windows, migration 0009) and the one-answer-per-message guard of keywords. Never commits."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from services.nomination.domain.limits import Counts, Outcome, Windows
from services.nomination.domain.selfcheck import Candidate
from services.nomination.repository.nominations import _progress_from_json
from shared.db import Conn


async def candidates(conn: Conn, person_key: str) -> list[Candidate]:
    rows = await conn.fetch(
        "SELECT id, birth_date, outcome, progress, submitted_at FROM nominations WHERE person_key = $1",
        person_key,
    )
    return [
        Candidate(r["id"], r["birth_date"], r["outcome"], _progress_from_json(r["progress"]), r["submitted_at"])
        for r in rows
    ]


async def candidate(conn: Conn, nomination_id: uuid.UUID) -> tuple[str, Candidate] | None:
    """(person key, the nomination) of a card's nomination id."""
    r = await conn.fetchrow(
        "SELECT id, person_key, birth_date, outcome, progress, submitted_at FROM nominations WHERE id = $1",
        nomination_id,
    )
    if r is None:
        return None
    return r["person_key"], Candidate(
        r["id"], r["birth_date"], r["outcome"], _progress_from_json(r["progress"]), r["submitted_at"]
    )


async def cover_dates(conn: Conn, nomination_id: uuid.UUID) -> tuple[date | None, date | None]:
    """(coverage start of the latest confirmation, coverage end of the latest end) the history recorded."""
    row = await conn.fetchrow(
        """
        SELECT (SELECT detail->>'coverage_start' FROM nomination_history
                WHERE nomination_id = $1 AND stage = 'enrolled' ORDER BY occurred_at DESC LIMIT 1) AS since,
               (SELECT detail->>'coverage_end' FROM nomination_history
                WHERE nomination_id = $1 AND stage = 'ended' ORDER BY occurred_at DESC LIMIT 1) AS until
        """,
        nomination_id,
    )
    if row is None:
        return None, None
    return _date(row["since"]), _date(row["until"])


def _date(value: str | None) -> date | None:
    try:
        return None if value is None else date.fromisoformat(value)
    except ValueError:
        return None


async def serialise(conn: Conn, source_hash: str, nik_hash: str | None) -> None:
    """Hold the source's and the NIK's budgets until the transaction ends (always in this order: no deadlock), so
    that two concurrent lookups of one source or one NIK are counted one after the other."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('selfcheck:source:' || $1, 0))", source_hash)
    if nik_hash is not None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('selfcheck:nik:' || $1, 0))", nik_hash)


async def counts(conn: Conn, source_hash: str, nik_hash: str | None, windows: Windows) -> Counts:
    """The lookups already made in the current windows (a limited lookup counts as neither attempt nor miss)."""
    row = await conn.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM selfcheck_lookups
           WHERE source_hash = $1 AND at >= $3 AND outcome <> 'limited') AS source_attempts,
          (SELECT count(*) FROM selfcheck_lookups
           WHERE source_hash = $1 AND at >= $3 AND outcome = 'miss') AS source_misses,
          (SELECT count(*) FROM selfcheck_lookups
           WHERE $2::text IS NOT NULL AND nik_hash = $2 AND at >= $4 AND outcome <> 'limited') AS nik_attempts,
          (SELECT count(*) FROM selfcheck_lookups
           WHERE $2::text IS NOT NULL AND nik_hash = $2 AND at >= $4 AND outcome = 'miss') AS nik_misses,
          (SELECT count(*) FROM selfcheck_lookups WHERE at >= $5 AND outcome = 'miss') AS global_misses
        """,
        source_hash,
        nik_hash,
        windows.source,
        windows.nik,
        windows.global_,
    )
    assert row is not None  # a SELECT without FROM returns one row
    return Counts(**{k: int(row[k]) for k in Counts.__dataclass_fields__})


async def told_limited_since(conn: Conn, source_hash: str, since: datetime) -> bool:
    """Whether a limited answer was already sent to this source since ``since`` (keywords: once per lock-out)."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM selfcheck_lookups WHERE source_hash = $1 AND at >= $2 AND told)",
        source_hash,
        since,
    )
    return found


async def record(
    conn: Conn,
    *,
    at: datetime,
    channel: str,
    source_hash: str,
    nik_hash: str | None,
    outcome: Outcome,
    budget: str | None = None,
    told: bool = False,
    nomination_id: uuid.UUID | None = None,
) -> None:
    """One lookup: the audit row and a count in the windows."""
    await conn.execute(
        """
        INSERT INTO selfcheck_lookups (at, channel, source_hash, nik_hash, outcome, budget, told, nomination_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        at,
        channel,
        source_hash,
        nik_hash,
        outcome,
        budget,
        told,
        nomination_id,
    )


async def claim_answer(conn: Conn, message_id: uuid.UUID, source_hash: str) -> bool:
    """True the first time ``message_id`` is answered; False when it was answered before (a replay)."""
    stored = await conn.fetchval(
        """
        INSERT INTO inbound_answers (message_id, source_hash, kind) VALUES ($1, $2, '')
        ON CONFLICT DO NOTHING RETURNING message_id
        """,
        message_id,
        source_hash,
    )
    return stored is not None


async def answered(conn: Conn, message_id: uuid.UUID, kind: str) -> None:
    await conn.execute("UPDATE inbound_answers SET kind = $2 WHERE message_id = $1", message_id, kind)


async def now(conn: Conn) -> datetime:
    """The database's clock: every replica counts its windows by the same one."""
    value: datetime = await conn.fetchval("SELECT now()")
    return value


async def leads_since(conn: Conn, source_hash: str, since: datetime) -> int:
    """Leads a sender's keywords made since ``since``."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM inbound_answers WHERE source_hash = $1 AND answered_at >= $2 AND kind = 'lead_received'",
        source_hash,
        since,
    )
    return found
