"""SQL of seating: the batch's locks and holdings, new seats, waitlist places and duplicates, the configuration.

Functions take a connection and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.enrolment.domain import Holding, SourceState
from services.enrolment.settings import FundingSourceConfig
from shared.db import Conn

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True)
class SeatRow:
    nomination_id: uuid.UUID
    nik: str
    person_key: str
    funding_source: str
    programme_year: int
    membership_number: str | None  # None while BPJS has not answered
    membership_issuer: str
    coverage_start: date
    enrolled_at: datetime
    status: str  # 'active' (number issued) or 'pending_bpjs'
    confirmed_at: datetime | None
    promoted: bool
    payload: dict[str, Any]  # the IdentityVerified payload
    restored_by_objection: uuid.UUID | None = None  # an upheld objection gave this seat back


@dataclass(frozen=True)
class WaitlistRow:
    nomination_id: uuid.UUID
    nik: str
    person_key: str
    programme_year: int
    payload: dict[str, Any]
    causation_id: uuid.UUID
    waitlisted_at: datetime


@dataclass(frozen=True)
class DuplicateRow:
    event_id: uuid.UUID
    nomination_id: uuid.UUID
    person_key: str
    reason: str
    held_by: uuid.UUID
    programme_year: int


# --- allocation ---------------------------------------------------------------------------------------------------


async def lock_funding_sources(conn: Conn, year: int, codes: Sequence[str]) -> list[SourceState]:
    """The year's configured sources, locked until the transaction ends.

    Every batch takes these locks first, always in the same order (priority, code), so concurrent consumers
    (partitions, replicas) allocate one after the other and the quotas hold exactly, without deadlocks.
    """
    rows = await conn.fetch(
        """
        SELECT code, quota, used, priority FROM funding_sources
        WHERE programme_year = $1 AND code = ANY($2::text[])
        ORDER BY priority, code
        FOR UPDATE
        """,
        year,
        list(codes),
    )
    return [SourceState(r["code"], r["quota"], r["used"], r["priority"]) for r in rows]


async def holdings(conn: Conn, nomination_ids: Sequence[uuid.UUID], niks: Sequence[str]) -> list[Holding]:
    """Seats and waitlist places already held by these nominations or these people.

    A nomination that ever had a seat or a place is decided; a person (NIK) is held only by a live seat or a
    place still waiting: someone whose seat ended (a wage earner who lost the job) may be nominated again.
    """
    rows = await conn.fetch(
        """
        SELECT nomination_id, nik, 'seat' AS kind FROM seats
        WHERE nomination_id = ANY($1::uuid[]) OR (nik = ANY($2::text[]) AND status IN ('pending_bpjs', 'active'))
        UNION ALL
        SELECT nomination_id, nik, 'waitlist' FROM waitlist
        WHERE nomination_id = ANY($1::uuid[])
           OR (nik = ANY($2::text[]) AND promoted_at IS NULL AND removed_at IS NULL)
        ORDER BY kind  -- 'seat' before 'waitlist'
        """,
        list(nomination_ids),
        list(niks),
    )
    # A promoted waitlist entry also has a seat: the seat, sorted first, wins.
    found: dict[uuid.UUID, Holding] = {}
    for r in rows:
        found.setdefault(r["nomination_id"], Holding(r["nomination_id"], r["nik"], r["kind"]))
    return list(found.values())


async def count_waiting(conn: Conn, year: int) -> int:
    """People waiting in the year (the counter kept with the waitlist; call it under the batch's lock)."""
    return int(await conn.fetchval("SELECT waiting FROM waitlist_years WHERE programme_year = $1", year) or 0)


_INSERT_SEATS = """
    INSERT INTO seats (nomination_id, nik, person_key, funding_source, programme_year, membership_number,
                       membership_issuer, coverage_start, enrolled_at, status, confirmed_at, promoted, payload,
                       restored_by_objection)
    SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, o
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
                $8::date[], $9::timestamptz[], $10::text[], $11::timestamptz[], $12::bool[], $13::jsonb[],
                $14::uuid[])
         WITH ORDINALITY AS t(a, b, c, d, e, f, g, h, i, j, k, l, m, o, n)
    ORDER BY n  -- "arrival" follows the order of the batch
"""
# A member restored by an objection within the year their seat ended gets that year's (ended) row back.
_RESTORE_SEATS = (
    _INSERT_SEATS
    + """
    ON CONFLICT (nomination_id, programme_year) DO UPDATE SET
        funding_source = EXCLUDED.funding_source, membership_number = EXCLUDED.membership_number,
        membership_issuer = EXCLUDED.membership_issuer, coverage_start = EXCLUDED.coverage_start,
        enrolled_at = EXCLUDED.enrolled_at, status = EXCLUDED.status, confirmed_at = EXCLUDED.confirmed_at,
        promoted = EXCLUDED.promoted, payload = EXCLUDED.payload,
        restored_by_objection = EXCLUDED.restored_by_objection, coverage_end = NULL, end_reason = NULL,
        ended_at = NULL, bpjs_attempts = 0, bpjs_next_attempt = now(), bpjs_last_error = NULL
    WHERE seats.status = 'ended'
    RETURNING 1
"""
)


async def insert_seats(conn: Conn, seats: Sequence[SeatRow]) -> None:
    """New seats; a restored member's (``restored_by_objection``) may take back their ended row of the year."""
    plain = [s for s in seats if s.restored_by_objection is None]
    restored = [s for s in seats if s.restored_by_objection is not None]
    if plain:
        await conn.execute(_INSERT_SEATS, *_columns(plain, SeatRow))
    if restored:
        written = await conn.fetch(_RESTORE_SEATS, *_columns(restored, SeatRow))
        if len(written) != len(restored):
            raise RuntimeError("a restored seat collided with a seat that had not ended")


async def insert_waitlist(conn: Conn, entries: Sequence[WaitlistRow]) -> None:
    """Append to the waitlist and count the newcomers as waiting; ``position`` follows the order of ``entries``."""
    if not entries:
        return
    await conn.execute(
        """
        INSERT INTO waitlist (nomination_id, nik, person_key, programme_year, payload, causation_id, waitlisted_at)
        SELECT nomination_id, nik, person_key, programme_year, payload, causation_id, waitlisted_at
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::uuid[], $7::timestamptz[])
             WITH ORDINALITY AS t(nomination_id, nik, person_key, programme_year, payload, causation_id,
                                  waitlisted_at, n)
        ORDER BY n
        """,
        *_columns(entries, WaitlistRow),
    )
    by_year: dict[int, int] = {}
    for entry in entries:
        by_year[entry.programme_year] = by_year.get(entry.programme_year, 0) + 1
    await conn.execute(
        """
        INSERT INTO waitlist_years (programme_year, waiting) SELECT * FROM unnest($1::int[], $2::int[])
        ON CONFLICT (programme_year) DO UPDATE SET waiting = waitlist_years.waiting + excluded.waiting
        """,
        list(by_year),
        list(by_year.values()),
    )


async def insert_duplicate_attempts(conn: Conn, attempts: Sequence[DuplicateRow]) -> None:
    if not attempts:
        return
    await conn.execute(
        """
        INSERT INTO duplicate_attempts (event_id, nomination_id, person_key, reason, held_by, programme_year)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::int[])
        ON CONFLICT (event_id) DO NOTHING
        """,
        *_columns(attempts, DuplicateRow),
    )


async def set_used(conn: Conn, year: int, used: Mapping[str, int]) -> None:
    """Write back the seats taken per source (once per batch, under the batch's lock); unchanged rows stay as is."""
    if not used:
        return
    await conn.execute(
        """
        UPDATE funding_sources f SET used = u.used, updated_at = now()
        FROM unnest($2::text[], $3::int[]) AS u(code, used)
        WHERE f.programme_year = $1 AND f.code = u.code AND f.used <> u.used
        """,
        year,
        list(used),
        list(used.values()),
    )


def _columns(rows: Sequence[Any], cls: type[DataclassInstance]) -> list[list[Any]]:
    names = list(cls.__dataclass_fields__)
    return [[getattr(row, name) for row in rows] for name in names]


# --- configuration ------------------------------------------------------------------------------------------------


async def lock_used(conn: Conn, year: int) -> dict[str, int]:
    """Lock every source row of the year (same order as the batches) and return the seats each has taken."""
    rows = await conn.fetch(
        "SELECT code, used FROM funding_sources WHERE programme_year = $1 ORDER BY priority, code FOR UPDATE", year
    )
    return {r["code"]: r["used"] for r in rows}


async def upsert_funding_sources(conn: Conn, year: int, sources: Iterable[FundingSourceConfig]) -> None:
    sources = list(sources)
    await conn.execute(
        """
        INSERT INTO funding_sources (code, programme_year, name, quota, priority, premium_idr)
        SELECT code, $1, name, quota, priority, premium_idr
        FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[])
             AS s(code, name, quota, priority, premium_idr)
        ON CONFLICT (code, programme_year) DO UPDATE
        SET name = excluded.name, quota = excluded.quota, priority = excluded.priority,
            premium_idr = excluded.premium_idr, updated_at = now()
        WHERE (funding_sources.name, funding_sources.quota, funding_sources.priority, funding_sources.premium_idr)
              IS DISTINCT FROM (excluded.name, excluded.quota, excluded.priority, excluded.premium_idr)
        """,
        year,
        [s.code for s in sources],
        [s.name for s in sources],
        [s.quota for s in sources],
        [s.priority for s in sources],
        [s.premium_idr for s in sources],
    )
