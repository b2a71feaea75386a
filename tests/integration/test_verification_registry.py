"""The civil-registry snapshot on real PostgreSQL: the COPY loader, its refusals, and look-ups."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.verification import __main__ as cli
from services.verification.adapters.registry import SnapshotRegistry
from services.verification.app import SPEC
from services.verification.errors import RegistryFileRefused, RegistryUnavailable
from services.verification.handlers import loads
from services.verification.handlers.loads import load_snapshot
from services.verification.repository.registry import REGISTRY_COLUMNS
from services.verification.settings import VerificationSettings
from shared import db
from tests import signed

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def dsn(create_database: Any) -> str:
    dsn = await create_database("verification")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    return dsn


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, 1, 4)
    yield pool
    await pool.close()


def person(nik: str, name: str = "SITI AMINAH", **changes: str) -> dict[str, str]:
    row = {
        "NIK": nik,
        "NO_KK": "6408012001220001",
        "NAMA_LGKP": name,
        "TMPT_LHR": "SANGATTA",
        "TGL_LHR": "1990-01-05",
        "JENIS_KLMIN": "PEREMPUAN",
        "ALAMAT": "JL. POROS",
        "NO_RT": "001",
        "NO_RW": "002",
        "KEL_CODE": "64.08.01.2001",
        "KEL_NAME": "SENYIUR",
        "KEC_NAME": "MUARA ANCALONG",
        "KAB_NAME": "KUTAI TIMUR",
        "PROP_NAME": "KALIMANTAN TIMUR",
        "JENIS_PKRJN": "PETANI/PEKEBUN",
        "STATUS_KAWIN": "KAWIN",
        "STATUS": "HIDUP",
    }
    return row | changes


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str] = REGISTRY_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([row.get(column, "") for column in header] for row in rows)
    return path


async def live_state(pool: asyncpg.Pool) -> tuple[int, int | None, int | None]:
    row = await pool.fetchrow("SELECT count(*), min(snapshot_id), max(snapshot_id) FROM registry_people")
    return row[0], row[1], row[2]


async def run_cli(dsn: str, *args: str) -> tuple[int, str, str]:
    env = (
        os.environ | {"PAYUNG_DATABASE_URL": dsn, "PAYUNG_KAFKA_BOOTSTRAP": "unused:9092"} | signed.env("verification")
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.verification", "load-registry", *args,
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


# ------------------------------------------------------------------------------------------------- loading


async def test_a_load_replaces_the_live_rows_and_records_the_snapshot(dsn, pool, tmp_path):
    first = write_csv(tmp_path / "first.csv", [person("6408014501900001"), person("6408014501900002")])
    result = await load_snapshot(dsn, first, "disdukcapil-kutim-2026-10")
    assert result.rows == 2
    snapshot = await pool.fetchrow("SELECT * FROM registry_snapshots WHERE id = $1", result.snapshot_id)
    assert snapshot["source_name"] == "disdukcapil-kutim-2026-10" and snapshot["row_count"] == 2
    assert snapshot["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest() == result.sha256
    assert await live_state(pool) == (2, result.snapshot_id, result.snapshot_id)

    second = write_csv(tmp_path / "second.csv", [person("6408014501900003", name="NURHAYATI", STATUS="MATI")])
    again = await load_snapshot(dsn, second)
    assert again.snapshot_id > result.snapshot_id
    assert await live_state(pool) == (1, again.snapshot_id, again.snapshot_id)
    row = await pool.fetchrow("SELECT * FROM registry_people")
    assert (row["nik"], row["nama_lgkp"], row["status"], str(row["tgl_lhr"])) == (
        "6408014501900003",
        "NURHAYATI",
        "MATI",
        "1990-01-05",
    )
    assert await pool.fetchval("SELECT source_name FROM registry_snapshots WHERE id = $1", again.snapshot_id) == (
        "second.csv"
    )


async def test_a_file_with_a_byte_order_mark_and_crlf_lines_loads(dsn, pool, tmp_path):
    path = tmp_path / "excel.csv"
    write_csv(path, [person("6408014501900001")])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert (await load_snapshot(dsn, path)).rows == 1


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["NIK", "NAMA", "TGL_LHR"], "missing NO_KK"),
        ([*REGISTRY_COLUMNS[:-1], "STATUS_HIDUP"], "unexpected STATUS_HIDUP"),
        ([REGISTRY_COLUMNS[1], REGISTRY_COLUMNS[0], *REGISTRY_COLUMNS[2:]], "wrong order"),
        ([c.lower() for c in REGISTRY_COLUMNS], "missing NIK"),
    ],
)
async def test_a_wrong_header_is_refused_and_the_live_registry_stays(dsn, pool, tmp_path, header, message):
    good = await load_snapshot(dsn, write_csv(tmp_path / "good.csv", [person("6408014501900001")]))
    bad = write_csv(tmp_path / "bad.csv", [person("6408014501900002")], header=header)
    with pytest.raises(RegistryFileRefused, match="wrong header") as refused:
        await load_snapshot(dsn, bad)
    assert message in str(refused.value) and "Expected exactly: NIK,NO_KK,NAMA_LGKP" in str(refused.value)
    assert await live_state(pool) == (1, good.snapshot_id, good.snapshot_id)
    assert await pool.fetchval("SELECT count(*) FROM registry_snapshots") == 1


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([person("6408014501900001"), person("6408014501900001")], "duplicate_nik: 1 rows"),
        ([person("6408014501900001", STATUS="ALIVE")], "status_unknown: 1 rows"),
        ([person("6408014501900001", JENIS_KLMIN="P")], "jenis_klmin_unknown: 1 rows"),
        ([person("640801450190000")], "nik_not_16_digits: 1 rows"),
        ([person("6408014501900001", KEL_CODE="6408012001")], "kel_code_not_dotted_village_code: 1 rows"),
        ([person("6408014501900001", NAMA_LGKP="")], "nama_lgkp_empty: 1 rows"),
        ([person("6408014501900001"), person("6408014501900002", TGL_LHR="1990-13-05")], "line 3, column tgl_lhr"),
        ([], "no rows"),
    ],
)
async def test_bad_rows_refuse_the_whole_file(dsn, pool, tmp_path, rows, message):
    with pytest.raises(RegistryFileRefused, match=message) as refused:
        await load_snapshot(dsn, write_csv(tmp_path / "rows.csv", rows))
    assert "6408014501900001" not in str(refused.value)
    assert await live_state(pool) == (0, None, None)
    assert await pool.fetchval("SELECT count(*) FROM registry_snapshots") == 0


async def test_the_command_line_loads_a_file_and_refuses_a_wrong_header(dsn, pool, tmp_path):
    good = write_csv(tmp_path / "good.csv", [person("6408014501900001"), person("6408014501900002")])
    code, out, err = await run_cli(dsn, str(good), "--source", "kutim-test")
    assert code == 0, err
    assert "loaded 2 rows in" in out
    assert await pool.fetchval("SELECT source_name FROM registry_snapshots") == "kutim-test"

    bad = write_csv(tmp_path / "bad.csv", [person("6408014501900003")], header=["NIK", "NAMA"])
    code, out, err = await run_cli(dsn, str(bad))
    assert code == loads.EXIT_REFUSED
    assert "wrong header" in err and "missing NO_KK" in err
    assert (await live_state(pool))[0] == 2


def test_the_command_refuses_a_missing_file(tmp_path, capsys):
    settings = VerificationSettings(database_url="postgresql://unused/unused", kafka_bootstrap="unused:9092")
    assert cli.load_registry(settings, [str(tmp_path / "missing.csv")]) == loads.EXIT_REFUSED
    assert "cannot read the file" in capsys.readouterr().err


async def test_the_command_asks_for_migrations_on_a_bare_database(create_database, tmp_path, capsys):
    bare = await create_database("verification_bare")
    settings = VerificationSettings(database_url=bare, kafka_bootstrap="unused:9092")
    path = write_csv(tmp_path / "r.csv", [person("6408014501900001")])
    assert await asyncio.to_thread(cli.load_registry, settings, [str(path)]) == 1
    assert "run `migrate` first" in capsys.readouterr().err


async def test_300000_rows_load_well_under_a_minute_and_readers_never_see_a_half_loaded_registry(dsn, pool, tmp_path):
    small = await load_snapshot(dsn, write_csv(tmp_path / "small.csv", [person("6408014501900001")]))
    big = tmp_path / "big.csv"
    line = ",6408012001220001,SITI AMINAH,SANGATTA,1990-01-05,PEREMPUAN,JL. POROS,001,002,64.08.01.2001,SENYIUR,"
    line += "MUARA ANCALONG,KUTAI TIMUR,KALIMANTAN TIMUR,PETANI/PEKEBUN,KAWIN,HIDUP\n"
    with big.open("w", encoding="utf-8") as handle:
        handle.write(",".join(REGISTRY_COLUMNS) + "\n")
        handle.writelines(f"6408{i:012d}{line}" for i in range(300_000))

    loading = asyncio.create_task(load_snapshot(dsn, big))
    seen = []
    while not loading.done():
        seen.append(await live_state(pool))
    result = await loading
    seen.append(await live_state(pool))

    assert result.rows == 300_000
    assert result.seconds < 30, f"300,000 rows took {result.seconds:.1f} s"
    old, new = (1, small.snapshot_id, small.snapshot_id), (300_000, result.snapshot_id, result.snapshot_id)
    assert set(seen) <= {old, new}, "a reader saw a mixed or partly loaded registry"
    assert seen.count(old) >= 2 and seen[-1] == new  # readers did look while the load ran


# ------------------------------------------------------------------------------------------------- look-ups


async def test_the_snapshot_registry_answers_a_batch_from_the_latest_snapshot(dsn, pool, tmp_path):
    registry = SnapshotRegistry(pool)
    with pytest.raises(RegistryUnavailable):
        await registry.lookup(["6408014501900001"])

    rows = [person("6408014501900001"), person("6408010506850001", "MUHAMMAD YUSUF", JENIS_KLMIN="LAKI-LAKI")]
    loaded = await load_snapshot(dsn, write_csv(tmp_path / "r.csv", rows))
    answer = await registry.lookup(["6408010506850001", "6408014501900001", "6408010506850001", "6408019999990001"])
    assert answer.snapshot_id == loaded.snapshot_id
    assert set(answer.records) == {"6408014501900001", "6408010506850001"}
    yusuf = answer.records["6408010506850001"]
    assert (yusuf.full_name, yusuf.sex, yusuf.status, yusuf.kel_code) == (
        "MUHAMMAD YUSUF",
        "M",
        "HIDUP",
        "64.08.01.2001",
    )
    assert answer.records["6408014501900001"].sex == "F"
    assert str(answer.records["6408014501900001"].birth_date) == "1990-01-05"
