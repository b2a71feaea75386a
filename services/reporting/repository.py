"""SQL of the reporting service. Functions take a connection (the handler's transaction) and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date
from typing import Any

from services.reporting.domain import objections, tallies
from services.reporting.domain.forecast import History
from services.reporting.domain.objections import ObjectionRow
from services.reporting.domain.readmodel import NominationRow
from shared.db import Conn

_COLUMNS = [f.name for f in fields(NominationRow)]


async def lock_rows(conn: Conn, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, NominationRow]:
    """Make sure a row exists for every id, lock them all, and return what the rows that existed before hold.

    Batches of different topics touch the same nominations concurrently: the placeholder insert plus
    ``FOR UPDATE`` serialises them per row, and taking the locks in id order keeps two batches from deadlocking.
    A placeholder (an id first seen now, locked by its insert) is not returned: it holds nothing and counts in no
    tally.
    """
    ordered = sorted(set(ids))
    created = await conn.fetch(
        "INSERT INTO report_nominations (nomination_id) SELECT unnest($1::uuid[]) ORDER BY 1 ON CONFLICT DO NOTHING"
        " RETURNING nomination_id",
        ordered,
    )
    new = {r["nomination_id"] for r in created}
    rows = await conn.fetch(
        # Column names come from the dataclass, values are parameters.
        f"SELECT {', '.join(_COLUMNS)} FROM report_nominations WHERE nomination_id = ANY($1::uuid[])"  # noqa: S608
        " ORDER BY nomination_id FOR UPDATE",
        [i for i in ordered if i not in new],
    )
    out = {}
    for r in rows:
        values = dict(r)
        values["rejection_reasons"] = tuple(values["rejection_reasons"])
        out[r["nomination_id"]] = NominationRow(**values)
    return out


async def save(conn: Conn, rows: Sequence[NominationRow]) -> None:
    """Write merged rows (they exist: ``lock_rows`` made them), with their derived status and kecamatan."""
    assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(_COLUMNS[1:]))
    n = len(_COLUMNS)
    await conn.executemany(
        f"UPDATE report_nominations SET {assignments}, status = ${n + 1}, kecamatan_code = ${n + 2}, "  # noqa: S608
        "updated_at = now() WHERE nomination_id = $1",
        # shallow: dataclasses.astuple deep-copies every value (a profile hot spot)
        [(*(getattr(row, c) for c in _COLUMNS), row.status, row.kecamatan_code) for row in rows],
    )


# ------------------------------------------------------------------------------------------- tallies (issue 17)
# domain/tallies.py: what each tally counts. One statement per tally per batch, keys in the order the deltas give
# (every writer the same: two batches lock the shared tally rows in the same order). Rows reaching zero stay (the
# reads skip them): a key left is usually entered again.
_STATUS_UPSERT = """
    INSERT INTO report_status_tally AS t
        (desa_code, kecamatan_code, occupation, status, funding_source, programme_year, submitted, n, sent, failed)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::boolean[],
                         $8::integer[], $9::integer[], $10::integer[])
    ON CONFLICT ON CONSTRAINT report_status_tally_key
    DO UPDATE SET n = t.n + excluded.n, sent = t.sent + excluded.sent, failed = t.failed + excluded.failed
"""
_DAY_UPSERT = """
    INSERT INTO report_day_tally AS t (kind, day, desa_code, funding_source, programme_year, n)
    SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::integer[], $6::integer[])
    ON CONFLICT ON CONSTRAINT report_day_tally_key DO UPDATE SET n = t.n + excluded.n
"""
_REASON_UPSERT = """
    INSERT INTO report_reason_tally AS t (desa_code, reason, n)
    SELECT * FROM unnest($1::text[], $2::text[], $3::integer[])
    ON CONFLICT ON CONSTRAINT report_reason_tally_key DO UPDATE SET n = t.n + excluded.n
"""


async def save_tallies(conn: Conn, deltas: tallies.Deltas) -> None:
    """Add a batch's deltas to the tallies (in the batch's transaction, after its rows are locked)."""
    for sql, rows in (
        (_STATUS_UPSERT, deltas.status_rows()),
        (_DAY_UPSERT, deltas.day_rows()),
        (_REASON_UPSERT, deltas.reason_rows()),
    ):
        if rows:
            await conn.execute(sql, *(list(column) for column in zip(*rows, strict=True)))


async def rebuild_tallies(conn: Conn) -> None:
    """Recompute every tally from ``report_nominations`` (migration 0004's function: an upgrade, a bulk fill)."""
    await conn.execute("SELECT report_tallies_rebuild()")


# --------------------------------------------------------------------------------------------------- reads
# Every read takes an optional area (a dotted desa, kecamatan or regency code: a nominator's scope, shared.auth's
# in_area): only nominations whose desa lies in it are counted. None: the whole programme. They read the tallies;
# ``HAVING sum(n) > 0`` leaves out the keys every row has left, so a group is listed exactly when rows are in it.
def _scope(n: int) -> str:
    return f"(${n}::text IS NULL OR desa_code = ${n} OR desa_code LIKE ${n} || '.%')"


async def status_counts(conn: Conn, area: str | None = None) -> dict[str, int]:
    rows = await conn.fetch(
        f"SELECT status, sum(n)::bigint AS n FROM report_status_tally WHERE {_scope(1)}"  # noqa: S608 - no input
        " GROUP BY status HAVING sum(n) > 0",
        area,
    )
    return {r["status"]: r["n"] for r in rows}


async def per_day(conn: Conn, area: str | None = None) -> tuple[dict[date, int], dict[date, int], dict[date, int]]:
    """Nominations submitted, seats taken and seats ended (of a known confirmation) per local (WITA) day."""
    rows = await conn.fetch(
        "SELECT kind, day, sum(n)::bigint AS n FROM report_day_tally"  # noqa: S608 - no input in the text
        f" WHERE kind IN ('submitted', 'enrolled', 'ended') AND {_scope(1)}"
        " GROUP BY 1, 2 HAVING sum(n) > 0",
        area,
    )
    out: dict[str, dict[date, int]] = {"submitted": {}, "enrolled": {}, "ended": {}}
    for r in rows:
        out[r["kind"]][r["day"]] = r["n"]
    return out["submitted"], out["enrolled"], out["ended"]


_AREA_QUERY = """
    SELECT {column} AS code, sum(n)::bigint AS nominated,
           coalesce(sum(n) FILTER (WHERE status = 'enrolled'), 0)::bigint AS covered,
           coalesce(sum(n) FILTER (WHERE status = 'waitlisted'), 0)::bigint AS waitlisted,
           coalesce(sum(n) FILTER (WHERE status = 'rejected'), 0)::bigint AS rejected
    FROM report_status_tally WHERE {where} GROUP BY 1 HAVING sum(n) > 0 ORDER BY covered DESC, nominated DESC, 1
"""
_AREA_QUERIES = {
    "kecamatan": _AREA_QUERY.format(column="kecamatan_code", where=f"kecamatan_code IS NOT NULL AND {_scope(1)}"),
    "desa": _AREA_QUERY.format(column="desa_code", where=f"desa_code IS NOT NULL AND {_scope(1)}"),
    "desa_of": _AREA_QUERY.format(column="desa_code", where=f"kecamatan_code = $2 AND {_scope(1)}"),
}


async def by_area(conn: Conn, level: str, parent: str | None = None, area: str | None = None) -> list[dict[str, Any]]:
    """Counts by status per kecamatan (``level='kecamatan'``) or per desa (all, or those of kecamatan ``parent``)."""
    if level == "desa" and parent:
        return [dict(r) for r in await conn.fetch(_AREA_QUERIES["desa_of"], area, parent)]
    return [dict(r) for r in await conn.fetch(_AREA_QUERIES[level], area)]


async def by_occupation(conn: Conn, area: str | None = None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""
        SELECT occupation AS code, sum(n)::bigint AS nominated,
               coalesce(sum(n) FILTER (WHERE status = 'enrolled'), 0)::bigint AS covered
        FROM report_status_tally WHERE occupation IS NOT NULL AND {_scope(1)}
        GROUP BY 1 HAVING sum(n) > 0 ORDER BY covered DESC, nominated DESC, 1
        """,  # noqa: S608 - no input in the text
        area,
    )
    return [dict(r) for r in rows]


async def active_by_source(conn: Conn, programme_year: int) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT funding_source, sum(n)::bigint AS n FROM report_status_tally"
        " WHERE status = 'enrolled' AND programme_year = $1 GROUP BY 1 HAVING sum(n) > 0",
        programme_year,
    )
    return {r["funding_source"]: r["n"] for r in rows}


async def rejection_reasons(conn: Conn, limit: int, area: str | None = None) -> list[tuple[str, int]]:
    """Reason codes of rejected nominations, most frequent first (a nomination may have several)."""
    rows = await conn.fetch(
        f"""
        SELECT reason, sum(n)::bigint AS n FROM report_reason_tally WHERE {_scope(2)}
        GROUP BY 1 HAVING sum(n) > 0 ORDER BY 2 DESC, 1 LIMIT $1
        """,  # noqa: S608 - no input in the text
        limit,
        area,
    )
    return [(r["reason"], r["n"]) for r in rows]


async def notification_totals(conn: Conn, area: str | None = None) -> dict[str, int]:
    row = await conn.fetchrow(
        f"SELECT coalesce(sum(sent), 0)::bigint AS sent, coalesce(sum(failed), 0)::bigint AS failed"  # noqa: S608
        f" FROM report_status_tally WHERE {_scope(1)}",
        area,
    )
    assert row is not None  # an aggregate without GROUP BY returns exactly one row
    return {"sent": int(row["sent"]), "failed": int(row["failed"])}


async def nominations_by_desa(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT desa_code, sum(n)::bigint AS n FROM report_status_tally WHERE desa_code IS NOT NULL AND submitted"
        " GROUP BY 1 HAVING sum(n) > 0"
    )
    return {r["desa_code"]: r["n"] for r in rows}


async def nominations_by_occupation(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT occupation, sum(n)::bigint AS n FROM report_status_tally WHERE occupation IS NOT NULL"
        " GROUP BY 1 HAVING sum(n) > 0"
    )
    return {r["occupation"]: r["n"] for r in rows}


async def source_history(conn: Conn, programme_year: int) -> dict[str, History]:
    """Confirmations and ends (of a known confirmation) per local (WITA) day of every funding source's seats of the
    programme year (the forecast's input)."""
    rows = await conn.fetch(
        "SELECT kind, funding_source, day, sum(n)::bigint AS n FROM report_day_tally"
        " WHERE kind IN ('source_enrolled', 'source_ended') AND funding_source IS NOT NULL AND programme_year = $1"
        " GROUP BY 1, 2, 3 HAVING sum(n) > 0",
        programme_year,
    )
    out: dict[str, tuple[dict[date, int], dict[date, int]]] = {}
    for r in rows:
        out.setdefault(r["funding_source"], ({}, {}))[0 if r["kind"] == "source_enrolled" else 1][r["day"]] = r["n"]
    return {source: History(f, e) for source, (f, e) in out.items()}


# ------------------------------------------------------------------------------------- objections (issue 15)
_OBJECTION_COLUMNS = [f.name for f in fields(ObjectionRow)]


async def save_objections(conn: Conn, facts: Mapping[uuid.UUID, ObjectionRow]) -> None:
    """Merge a batch's objection facts into their rows (locked in id order, as ``lock_rows`` does)."""
    if not facts:
        return
    ordered = sorted(facts)
    rows = await conn.fetch(
        f"SELECT {', '.join(_OBJECTION_COLUMNS)} FROM report_objections"  # noqa: S608 - columns of the dataclass
        " WHERE objection_id = ANY($1::uuid[]) ORDER BY objection_id FOR UPDATE",
        ordered,
    )
    existing = {r["objection_id"]: ObjectionRow(**dict(r)) for r in rows}
    merged = [objections.merge(existing.get(oid), facts[oid]) for oid in ordered]
    updates = ", ".join(f"{c} = excluded.{c}" for c in _OBJECTION_COLUMNS[1:])
    placeholders = ", ".join(f"${i + 1}" for i in range(len(_OBJECTION_COLUMNS)))
    await conn.executemany(
        f"INSERT INTO report_objections ({', '.join(_OBJECTION_COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
        f" ON CONFLICT (objection_id) DO UPDATE SET {updates}, updated_at = now()",
        [tuple(getattr(row, c) for c in _OBJECTION_COLUMNS) for row in merged],
    )


async def objection_rows(conn: Conn, area: str | None = None) -> list[dict[str, Any]]:
    """What the counts need of every objection in ``area``: codes and dates (a few per thousand nominations)."""
    rows = await conn.fetch(
        "SELECT reason_code, state, desa_code, filed_at, due_by, decided_at FROM report_objections"
        " WHERE ($1::text IS NULL OR desa_code = $1 OR desa_code LIKE $1 || '.%')",
        area,
    )
    return [dict(r) for r in rows]


# ------------------------------------------------------------------------------------- population (issue 15)
async def replace_population(conn: Conn, rows: Sequence[tuple[str, int]]) -> int:
    """A load replaces the whole table (the CSV is the complete list)."""
    await conn.execute("DELETE FROM report_population")
    await conn.executemany("INSERT INTO report_population (desa_code, eligible_population) VALUES ($1, $2)", rows)
    return len(rows)


async def population(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT desa_code, eligible_population FROM report_population")
    return {r["desa_code"]: r["eligible_population"] for r in rows}


# --------------------------------------------------------------------------------------- forecast (issue 15)
async def claim_forecast(conn: Conn, row: Mapping[str, Any]) -> bool:
    """Record the (source, day) forecast; False when that day's exists already (nothing is published twice)."""
    made = await conn.fetchval(
        """
        INSERT INTO report_forecasts (funding_source, as_of, programme_year, forecast_id, quota, enrolled,
                                      forecast_enrolled, seats_left, unspent_rupiah, published)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING true
        """,
        row["funding_source"],
        row["as_of"],
        row["programme_year"],
        row["forecast_id"],
        row["quota"],
        row["enrolled"],
        row["forecast_enrolled"],
        row["seats_left"],
        row["unspent_rupiah"],
        row["published"],
    )
    return bool(made)
