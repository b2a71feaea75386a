"""SQL of the civil registry: the snapshot and its loading, the answer cache of the HTTP and DCI adapters, the
wage-earner roster. Functions never commit."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import asyncpg

from shared.db import Conn

# The civil-registry CSV's columns, in file order; the table columns are the same names lower-cased.
REGISTRY_COLUMNS = (
    "NIK", "NO_KK", "NAMA_LGKP", "TMPT_LHR", "TGL_LHR", "JENIS_KLMIN", "ALAMAT", "NO_RT", "NO_RW", "KEL_CODE",
    "KEL_NAME", "KEC_NAME", "KAB_NAME", "PROP_NAME", "JENIS_PKRJN", "STATUS_KAWIN", "STATUS",
)  # fmt: skip
_TABLE_COLUMNS = tuple(c.lower() for c in REGISTRY_COLUMNS)
STAGING = "registry_staging"  # a temporary table of the loading session

# --------------------------------------------------------------------------------------------- civil registry


async def latest_snapshot(conn: Conn | asyncpg.Pool) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, source_name, row_count, sha256, loaded_at FROM registry_snapshots ORDER BY id DESC LIMIT 1"
    )


async def recent_snapshots(conn: Conn | asyncpg.Pool, limit: int = 10) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, source_name, row_count, sha256, loaded_at FROM registry_snapshots ORDER BY id DESC LIMIT $1",
        limit,
    )


async def registry_people(conn: Conn, niks: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT nik, no_kk, nama_lgkp, tgl_lhr, jenis_klmin, kel_code, status, snapshot_id
        FROM registry_people WHERE nik = ANY($1::text[])
        """,
        list(niks),
    )


async def create_staging(conn: Conn) -> None:
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


async def copy_into_staging(conn: Conn, path: str | PathLike[str]) -> int:
    """COPY the CSV file (header line included) into the staging table; returns the rows copied."""
    result = await conn.copy_to_table(
        STAGING, source=Path(path), columns=list(_TABLE_COLUMNS), format="csv", header=True, encoding="utf-8"
    )
    return int(result.split()[-1])


async def staging_problems(conn: Conn) -> dict[str, int]:
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


async def replace_registry(conn: Conn, source_name: str, row_count: int, sha256: str) -> int:
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


async def tidy_registry(conn: Conn) -> None:
    """Reclaim the replaced rows and refresh statistics (outside a transaction; readers are not blocked)."""
    await conn.execute("VACUUM (ANALYZE) registry_people")


# ------------------------------------------------------------------------------------ HTTP registry answer cache


async def cached_answers(conn: Conn | asyncpg.Pool, niks: Sequence[str]) -> list[asyncpg.Record]:
    """Unexpired cached answers of the HTTP registry for ``niks``."""
    return await conn.fetch(
        "SELECT nik, state, record FROM registry_cache WHERE nik = ANY($1::text[]) AND expires_at > now()",
        list(niks),
    )


async def remember_answers(conn: Conn | asyncpg.Pool, rows: Sequence[tuple[str, str, Any]], ttl_s: float) -> None:
    """(nik, state, record JSON or None) answers, kept for ``ttl_s`` seconds."""
    await conn.executemany(
        """
        INSERT INTO registry_cache (nik, state, record, expires_at)
        VALUES ($1, $2, $3, now() + make_interval(secs => $4::double precision))
        ON CONFLICT (nik) DO UPDATE SET state = EXCLUDED.state, record = EXCLUDED.record,
            fetched_at = now(), expires_at = EXCLUDED.expires_at
        """,
        [(*row, ttl_s) for row in rows],
    )


# ---------------------------------------------------------------------------------------- registry life events


async def changed_verified_people(conn: Conn) -> list[asyncpg.Record]:
    """Verified people whose staged registry row differs from the live one in status or residence (or who have
    no live row), with both rows: the candidates for life events. Call before the swap, in its transaction."""
    return await conn.fetch(
        """
        SELECT v.nomination_id, v.person_key, v.nik, v.programme_regency,
               s.nik AS new_nik, s.nama_lgkp AS new_nama_lgkp, s.tgl_lhr AS new_tgl_lhr,
               s.jenis_klmin AS new_jenis_klmin, s.kel_code AS new_kel_code, s.status AS new_status,
               s.no_kk AS new_no_kk,
               p.nik AS old_nik, p.nama_lgkp AS old_nama_lgkp, p.tgl_lhr AS old_tgl_lhr,
               p.jenis_klmin AS old_jenis_klmin, p.kel_code AS old_kel_code, p.status AS old_status,
               p.no_kk AS old_no_kk
        FROM verifications v
        JOIN registry_staging s ON s.nik = v.nik
        LEFT JOIN registry_people p ON p.nik = v.nik
        WHERE v.outcome = 'verified' AND v.programme_regency IS NOT NULL
          AND (p.nik IS NULL OR p.status IS DISTINCT FROM s.status OR p.kel_code IS DISTINCT FROM s.kel_code)
        """
    )


# ------------------------------------------------------------------------------------- wage-earner roster


async def create_roster_staging(conn: Conn) -> None:
    await conn.execute("DROP TABLE IF EXISTS roster_staging; CREATE TEMPORARY TABLE roster_staging (nik text)")


async def copy_roster(conn: Conn, path: str | PathLike[str]) -> int:
    result = await conn.copy_to_table(
        "roster_staging", source=Path(path), columns=["nik"], format="csv", header=True, encoding="utf-8"
    )
    return int(result.split()[-1])


async def roster_problems(conn: Conn) -> int:
    """Staged rows whose NIK is not 16 digits."""
    return int(
        await conn.fetchval(r"SELECT count(*) FROM roster_staging WHERE nik IS NULL OR btrim(nik) !~ '^[0-9]{16}$'")
    )


async def replace_roster(conn: Conn, source_name: str, sha256: str) -> tuple[int, int]:
    """Swap the roster for the staged NIKs (duplicates collapse); returns (snapshot id, distinct NIKs)."""
    snapshot_id: int = await conn.fetchval(
        "INSERT INTO wage_earner_snapshots (source_name, row_count, sha256) VALUES ($1, 0, $2) RETURNING id",
        source_name,
        sha256,
    )
    await conn.execute("DELETE FROM wage_earners")
    result = await conn.execute(
        "INSERT INTO wage_earners (nik, snapshot_id) SELECT DISTINCT btrim(nik), $1::bigint FROM roster_staging",
        snapshot_id,
    )
    count = int(result.split()[-1])
    await conn.execute("UPDATE wage_earner_snapshots SET row_count = $2 WHERE id = $1", snapshot_id, count)
    return snapshot_id, count


async def forget_answers(conn: Conn, niks: Sequence[str]) -> None:
    """Drop cached answers (an upheld objection's re-run asks the registry afresh)."""
    await conn.execute("DELETE FROM registry_cache WHERE nik = ANY($1::text[])", list(niks))
