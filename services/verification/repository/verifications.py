"""SQL of the decisions (``verifications``). Functions take a connection inside the caller's transaction and never
commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from shared.db import Conn

# ------------------------------------------------------------------------------------------------ verifications


@dataclass(frozen=True)
class VerificationRow:
    nomination_id: uuid.UUID
    person_key: str
    outcome: str
    reasons: list[dict[str, str]]
    flags: list[dict[str, str]]
    checks: list[dict[str, Any]]
    name_score: float | None
    registry_snapshot_id: int | None
    event_id: uuid.UUID | None
    source_event_id: uuid.UUID
    # who the nominee is (from the registry record), for duplicates and life events; None without a record
    nik: str | None = None
    full_name: str | None = None
    name_key: str | None = None
    birth_date: date | None = None
    no_kk: str | None = None
    desa_code: str | None = None
    programme_regency: str | None = None
    submitted: Any = None  # the NominationSubmitted envelope of a rejection (an upheld objection re-runs it)


async def decided(conn: Conn, nomination_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The nominations among ``nomination_ids`` that already have a decision (or wait for one)."""
    rows = await conn.fetch(
        "SELECT nomination_id FROM verifications WHERE nomination_id = ANY($1::uuid[])", list(nomination_ids)
    )
    return {r["nomination_id"] for r in rows}


async def verified_people(conn: Conn, person_keys: Sequence[str], besides: Sequence[uuid.UUID] = ()) -> set[str]:
    """The person keys among ``person_keys`` with a nomination verified, in review or pending (other than
    ``besides``): the same person is never verified twice, whichever funding source pays."""
    rows = await conn.fetch(
        """
        SELECT person_key FROM verifications
        WHERE person_key = ANY($1::text[]) AND outcome = 'verified'
        UNION
        SELECT person_key FROM verifications
        WHERE person_key = ANY($1::text[]) AND outcome IN ('in_review', 'pending')
          AND nomination_id <> ALL($2::uuid[])
        """,
        list(person_keys),
        list(besides),
    )
    return {r["person_key"] for r in rows}


async def mark_ended(conn: Conn, nomination_ids: Sequence[uuid.UUID]) -> None:
    """Verified nominations whose cover ended: the person may be nominated, and verified, again."""
    await conn.execute(
        "UPDATE verifications SET outcome = 'ended', updated_at = now() "
        "WHERE nomination_id = ANY($1::uuid[]) AND outcome = 'verified'",
        list(nomination_ids),
    )


async def known_people(conn: Conn, birth_dates: Sequence[date]) -> list[asyncpg.Record]:
    """Verified people born on one of ``birth_dates`` (fuzzy duplicate candidates; served by a partial index)."""
    return await conn.fetch(
        """
        SELECT nomination_id, nik, full_name, birth_date, no_kk, desa_code FROM verifications
        WHERE outcome = 'verified' AND birth_date = ANY($1::date[]) AND nik IS NOT NULL
        """,
        sorted(set(birth_dates)),
    )


async def wage_earners(conn: Conn, niks: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT nik FROM wage_earners WHERE nik = ANY($1::text[])", list(niks))
    return {r["nik"] for r in rows}


_ROW_COLUMNS = (
    "nomination_id person_key outcome reasons flags checks name_score registry_snapshot_id event_id source_event_id "
    "nik full_name name_key birth_date no_kk desa_code programme_regency submitted"
).split()


# Built once from the fixed column list above (no outside input reaches it).
_INSERT_VERIFICATION = (
    f"INSERT INTO verifications ({', '.join(_ROW_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_ROW_COLUMNS) + 1))}) "
    f"ON CONFLICT (nomination_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in _ROW_COLUMNS[2:])}, "
    "decided_at = now(), updated_at = now() WHERE verifications.outcome = 'pending'"
)


async def insert_verifications(conn: Conn, rows: Iterable[VerificationRow]) -> None:
    """Insert decisions; a nomination that was pending gets its row rewritten with the decision."""
    await conn.executemany(_INSERT_VERIFICATION, [tuple(getattr(r, c) for c in _ROW_COLUMNS) for r in rows])


async def set_outcome(
    conn: Conn, nomination_id: uuid.UUID, outcome: str, reasons: list[dict[str, str]], event_id: uuid.UUID
) -> None:
    """A reviewed case's final outcome (the reasons of a rejection replace the review finding)."""
    await conn.execute(
        """
        UPDATE verifications SET outcome = $2, reasons = $3, event_id = $4, decided_at = now(), updated_at = now()
        WHERE nomination_id = $1
        """,
        nomination_id,
        outcome,
        reasons,
        event_id,
    )


async def get_verification(conn: Conn | asyncpg.Pool, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT nomination_id, outcome, reasons, flags, checks, name_score, registry_snapshot_id, decided_at, event_id
        FROM verifications WHERE nomination_id = $1
        """,
        nomination_id,
    )


async def verified_page(conn: Conn | asyncpg.Pool, after: uuid.UUID | None, limit: int) -> list[asyncpg.Record]:
    """One page of the verified members (the yearly re-check), by nomination id."""
    return await conn.fetch(
        """
        SELECT nomination_id, person_key, nik, programme_regency FROM verifications
        WHERE outcome = 'verified' AND nik IS NOT NULL AND programme_regency IS NOT NULL
          AND ($1::uuid IS NULL OR nomination_id > $1)
        ORDER BY nomination_id LIMIT $2
        """,
        after,
        limit,
    )
