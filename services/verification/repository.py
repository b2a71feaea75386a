"""SQL of the verification service. Functions take a connection inside the caller's transaction and never commit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import asyncpg

# The civil-registry CSV's columns, in file order; the table columns are the same names lower-cased.
REGISTRY_COLUMNS = (
    "NIK", "NO_KK", "NAMA_LGKP", "TMPT_LHR", "TGL_LHR", "JENIS_KLMIN", "ALAMAT", "NO_RT", "NO_RW", "KEL_CODE",
    "KEL_NAME", "KEC_NAME", "KAB_NAME", "PROP_NAME", "JENIS_PKRJN", "STATUS_KAWIN", "STATUS",
)  # fmt: skip
_TABLE_COLUMNS = tuple(c.lower() for c in REGISTRY_COLUMNS)
STAGING = "registry_staging"  # a temporary table of the loading session

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
    event_id: uuid.UUID
    source_event_id: uuid.UUID


async def decided(conn: asyncpg.Connection, nomination_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The nominations among ``nomination_ids`` that already have a decision."""
    rows = await conn.fetch(
        "SELECT nomination_id FROM verifications WHERE nomination_id = ANY($1::uuid[])", list(nomination_ids)
    )
    return {r["nomination_id"] for r in rows}


async def verified_people(conn: asyncpg.Connection, person_keys: Sequence[str]) -> set[str]:
    """The person keys among ``person_keys`` that some nomination was verified for (served by the partial index)."""
    rows = await conn.fetch(
        "SELECT person_key FROM verifications WHERE person_key = ANY($1::text[]) AND outcome = 'verified'",
        list(person_keys),
    )
    return {r["person_key"] for r in rows}


async def insert_verifications(conn: asyncpg.Connection, rows: Iterable[VerificationRow]) -> None:
    await conn.executemany(
        """
        INSERT INTO verifications (nomination_id, person_key, outcome, reasons, flags, checks, name_score,
                                   registry_snapshot_id, event_id, source_event_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        [
            (
                r.nomination_id,
                r.person_key,
                r.outcome,
                r.reasons,
                r.flags,
                r.checks,
                r.name_score,
                r.registry_snapshot_id,
                r.event_id,
                r.source_event_id,
            )
            for r in rows
        ],
    )


async def get_verification(conn: asyncpg.Connection | asyncpg.Pool, nomination_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT nomination_id, outcome, reasons, flags, checks, name_score, registry_snapshot_id, decided_at, event_id
        FROM verifications WHERE nomination_id = $1
        """,
        nomination_id,
    )


# --------------------------------------------------------------------------------------------- civil registry


async def latest_snapshot(conn: asyncpg.Connection | asyncpg.Pool) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, source_name, row_count, sha256, loaded_at FROM registry_snapshots ORDER BY id DESC LIMIT 1"
    )


async def recent_snapshots(conn: asyncpg.Connection | asyncpg.Pool, limit: int = 10) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, source_name, row_count, sha256, loaded_at FROM registry_snapshots ORDER BY id DESC LIMIT $1",
        limit,
    )


async def registry_people(conn: asyncpg.Connection, niks: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT nik, nama_lgkp, tgl_lhr, jenis_klmin, kel_code, status, snapshot_id
        FROM registry_people WHERE nik = ANY($1::text[])
        """,
        list(niks),
    )


async def create_staging(conn: asyncpg.Connection) -> None:
    """A temporary table shaped like the CSV (never WAL-logged, gone with the session)."""
    await conn.execute(
        """
        DROP TABLE IF EXISTS registry_staging;
        CREATE TEMPORARY TABLE registry_staging (
            nik text, no_kk text, nama_lgkp text, tmpt_lhr text, tgl_lhr date, jenis_klmin text, alamat text,
            no_rt text, no_rw text, kel_code text, kel_name text, kec_name text, kab_name text, prop_name text,
            jenis_pkrjn text, status_kawin text, status text
        )
        """
    )


async def copy_into_staging(conn: asyncpg.Connection, path: str | PathLike[str]) -> int:
    """COPY the CSV file (header line included) into the staging table; returns the rows copied."""
    result = await conn.copy_to_table(
        STAGING, source=path, columns=list(_TABLE_COLUMNS), format="csv", header=True, encoding="utf-8"
    )
    return int(result.split()[-1])


async def staging_problems(conn: asyncpg.Connection) -> dict[str, int]:
    """Counts of staged rows that the live table would refuse, by kind (zero counts left out)."""
    row = await conn.fetchrow(
        r"""
        SELECT
            count(*) FILTER (WHERE nik IS NULL OR nik !~ '^[0-9]{16}$') AS nik_not_16_digits,
            count(*) - count(DISTINCT nik) AS duplicate_nik,
            count(*) FILTER (WHERE nama_lgkp IS NULL OR btrim(nama_lgkp) = '') AS nama_lgkp_empty,
            count(*) FILTER (WHERE tgl_lhr IS NULL) AS tgl_lhr_empty,
            count(*) FILTER (WHERE jenis_klmin IS NULL OR jenis_klmin NOT IN ('LAKI-LAKI', 'PEREMPUAN'))
                AS jenis_klmin_unknown,
            count(*) FILTER (WHERE kel_code IS NULL OR kel_code !~ '^[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}$')
                AS kel_code_not_dotted_village_code,
            count(*) FILTER (WHERE status IS NULL OR status NOT IN ('HIDUP', 'MATI', 'TIDAK_AKTIF')) AS status_unknown
        FROM registry_staging
        """
    )
    assert row is not None
    return {k: v for k, v in row.items() if v}


async def replace_registry(conn: asyncpg.Connection, source_name: str, row_count: int, sha256: str) -> int:
    """Swap the live registry for the staged rows and record the snapshot; returns the snapshot id.

    Call inside a transaction: readers keep seeing the previous snapshot until it commits (DELETE, unlike
    TRUNCATE, takes no lock that blocks them).
    """
    snapshot_id: int = await conn.fetchval(
        "INSERT INTO registry_snapshots (source_name, row_count, sha256) VALUES ($1, $2, $3) RETURNING id",
        source_name,
        row_count,
        sha256,
    )
    await conn.execute("DELETE FROM registry_people")
    await conn.execute(
        """
        INSERT INTO registry_people (nik, no_kk, nama_lgkp, tmpt_lhr, tgl_lhr, jenis_klmin, alamat, no_rt, no_rw,
                                     kel_code, kel_name, kec_name, kab_name, prop_name, jenis_pkrjn, status_kawin,
                                     status, snapshot_id)
        SELECT nik, no_kk, nama_lgkp, tmpt_lhr, tgl_lhr, jenis_klmin, alamat, no_rt, no_rw, kel_code, kel_name,
               kec_name, kab_name, prop_name, jenis_pkrjn, status_kawin, status, $1
        FROM registry_staging
        """,
        snapshot_id,
    )
    return snapshot_id


async def tidy_registry(conn: asyncpg.Connection) -> None:
    """Reclaim the replaced rows and refresh statistics (outside a transaction; readers are not blocked)."""
    await conn.execute("VACUUM (ANALYZE) registry_people")
