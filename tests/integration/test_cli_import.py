"""``payung import`` and ``payung nomination`` as an official runs them, against a running nomination service.

The service runs in this test's event loop (uvicorn on a free port, real PostgreSQL and Kafka); the CLI runs as
its own process, exactly as typed in a terminal. Importing the same file twice creates nothing twice; the error
report names row, column and reason, and once fixed it imports as it is.
"""

from __future__ import annotations

import asyncio
import csv
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from services.nomination.app import SPEC, create
from services.nomination.settings import NominationSettings
from shared import db, topics

pytestmark = pytest.mark.integration

HEADER = "nik,nama_lengkap,tanggal_lahir,jenis_kelamin,no_hp,kode_desa,rt,rw,alamat,pekerjaan\n"
GOOD = [
    "6408014501900001,Siti Aminah,1990-01-05,P,081234567890,64.08.01.2001,3,1,,nelayan\n",
    "6408011203850002,Abdul Karim,12-03-1985,L,081298765432,6408012001,4,2,Jl. Sungai,Petani / pekebun\n",
]
BAD_NIK = "12345,Rahmat,1980-02-02,L,081211112222,64.08.01.2001,1,1,,ojek\n"  # caught by the CLI itself
BAD_PHONE = "6408010202800003,Rahmat,1980-02-02,L,0541123456,64.08.01.2001,1,1,,ojek\n"  # a landline: the service
DESA = "64.08.01.2001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def auth(role: str, area: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Service settings and CLI environment for an API key, when the services require authentication."""
    try:
        from shared.auth import hash_api_key, new_api_key
    except ImportError:
        return {}, {}
    key = new_api_key()
    config = {"api_keys": {hash_api_key(key): {"name": "desa official", "role": role, "area": area}}}
    return config, {"PAYUNG_API_KEY": key}


async def payung(env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=Path(__file__).parents[2],
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode()


async def test_import_twice_creates_nothing_twice_and_errors_can_be_fixed(
    infra: Any, create_database: Any, topic_prefix: str, tmp_path: Path
) -> None:
    dsn = await create_database("nomination")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    auth_settings, auth_env = auth("nominator", DESA)
    port = free_port()
    settings = NominationSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=topic_prefix,
        person_key_secret="cli-import-test-secret-0123456789",
        http_port=port,
        outbox_poll_interval_s=0.2,
        **auth_settings,
    )
    server = uvicorn.Server(uvicorn.Config(create(settings), host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    env = {**os.environ, "PAYUNG_NOMINATION_URL": f"http://127.0.0.1:{port}", **auth_env}
    if not auth_env:
        env.pop("PAYUNG_API_KEY", None)  # a developer's own key must not decide this test
    sheet = tmp_path / "senyiur.csv"
    sheet.write_text(HEADER + GOOD[0] + BAD_NIK + GOOD[1] + BAD_PHONE, encoding="utf-8")
    options = [
        "--nominator-name",
        "Kepala Desa Senyiur",
        "--nominator-region",
        DESA,
        "--letter-number",
        "470/12/2026",
        "--letter-date",
        "2026-02-01",
        "--letter-issuer",
        "Kepala Desa Senyiur",
    ]
    try:
        for _ in range(600):  # polling until uvicorn listens (30 s at most)
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the nomination service did not start"
        pool = await db.create_pool(dsn, 1, 1)
        try:
            code, out = await payung(env, "import", str(sheet), *options)
            assert code == 1, out  # some rows failed
            assert "new: 2, imported before: 0, rows with errors: 2" in out, out
            assert await pool.fetchval("SELECT count(*) FROM nominations") == 2

            report = tmp_path / "senyiur-laporan.csv"  # every row, with its nomination id or its reasons
            with report.open(encoding="utf-8-sig") as handle:
                lines = list(csv.DictReader(handle))
            assert [(r["baris"], r["kolom"]) for r in lines] == [("2", ""), ("3", "nik"), ("4", ""), ("5", "no_hp")]
            assert lines[1]["alasan"].startswith("NIK harus 16 angka") and lines[1]["reason"]
            assert lines[3]["alasan"].startswith("Nomor HP tidak sah") and "mobile" in lines[3]["reason"]
            ids = {str(r["id"]) for r in await pool.fetch("SELECT id FROM nominations")}
            assert {lines[0]["id_nominasi"], lines[2]["id_nominasi"]} == ids  # written back to the report
            assert lines[0]["status"] == "diimpor"

            code, out = await payung(env, "import", str(sheet), *options)
            assert "new: 0, imported before: 2, rows with errors: 2" in out, out
            assert await pool.fetchval("SELECT count(*) FROM nominations") == 2  # nothing created twice

            # The official fixes the two rows in the report itself and imports it.
            fixed = report.read_text(encoding="utf-8-sig")
            fixed = fixed.replace("12345,Rahmat", "6408010202800004,Rahmat").replace("0541123456", "081311112222")
            report.write_text(fixed, encoding="utf-8-sig")
            code, out = await payung(env, "import", str(report), *options, "--report", str(tmp_path / "again.csv"))
            assert code == 0, out
            assert "new: 2, imported before: 2, rows with errors: 0" in out, out  # the imported rows replay
            assert await pool.fetchval("SELECT count(*) FROM nominations") == 4

            nomination_id = await pool.fetchval("SELECT id FROM nominations ORDER BY submitted_at LIMIT 1")
            code, out = await payung(env, "nomination", str(nomination_id))
            assert code == 0, out
            assert f"nomination  {nomination_id}" in out and "status      submitted" in out, out
            assert "6408014501900001" not in out and "Siti" not in out  # no personal data on the screen
        finally:
            await pool.close()
    finally:
        server.should_exit = True
        await serving


async def test_an_xlsx_import_with_an_out_of_area_row_reports_in_xlsx(
    infra: Any, create_database: Any, topic_prefix: str, tmp_path: Path
) -> None:
    """Issue 16: one row of another desa no longer aborts the import (before: 3 rows created, no report); the
    report of an XLSX is an XLSX with the faulty cells highlighted and every imported row's nomination id."""
    from openpyxl import Workbook, load_workbook

    dsn = await create_database("nomination")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    auth_settings, auth_env = auth("nominator", DESA)
    if not auth_env:
        pytest.skip("the nomination service has no area-scoped API keys here")
    port = free_port()
    settings = NominationSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=topic_prefix,
        person_key_secret="cli-import-test-secret-0123456789",
        http_port=port,
        outbox_poll_interval_s=0.2,
        **auth_settings,
    )
    server = uvicorn.Server(uvicorn.Config(create(settings), host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    env = {**os.environ, "PAYUNG_NOMINATION_URL": f"http://127.0.0.1:{port}", **auth_env}
    book = Workbook()
    sheet = book.active
    sheet.append(
        ["NIK", "Nama  Lengkap", "tanggal lahir", "jenis_kelamin", "no_hp", "kode_desa", "rt", "rw", "pekerjaan"]
    )
    sheet.append(
        ["6408015708950001", "Contoh", "1995-08-17", "P", "081200000000", DESA, "1", "1", "nelayan"]
    )  # example
    for i, desa in enumerate([DESA, DESA, DESA, "64.08.01.2002", DESA], start=1):
        sheet.append([f"64080112038500{i:02d}", f"Warga {'ABCDE'[i - 1]}", "12-03-1985", "L", f"08129876543{i}", desa,
                      "4", "2", "Petani / pekebun"])  # fmt: skip
    path = tmp_path / "senyiur.xlsx"
    book.save(path)
    options = ["--nominator-name", "Kepala Desa", "--nominator-region", DESA, "--letter-number", "470/12/2026",
               "--letter-date", "2026-02-01", "--letter-issuer", "Kepala Desa"]  # fmt: skip
    try:
        for _ in range(600):  # polling until uvicorn listens (30 s at most)
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the nomination service did not start"
        pool = await db.create_pool(dsn, 1, 1)
        try:
            code, out = await payung(env, "import", str(path), *options)
            assert code == 1, out
            assert "new: 4, imported before: 0, rows with errors: 1" in out, out
            assert await pool.fetchval("SELECT count(*) FROM nominations") == 4  # the example row is never sent
            ids = {str(r["id"]) for r in await pool.fetch("SELECT id FROM nominations")}
            ws = load_workbook(tmp_path / "senyiur-laporan.xlsx").active
            header = [c.value for c in ws[1]]
            rows = [dict(zip(header, [c for c in r], strict=True)) for r in ws.iter_rows(min_row=2)]
            assert [r["baris"].value for r in rows] == ["2", "3", "4", "5", "6", "7"]
            assert rows[0]["status"].value == "contoh (tidak diimpor)"
            assert {r["id_nominasi"].value for r in rows if r["id_nominasi"].value} == ids
            out_of_area = rows[4]
            assert out_of_area["kolom"].value == "kode_desa" and "di luar wilayah" in out_of_area["alasan"].value
            assert out_of_area["kode_desa"].fill.fgColor.rgb.endswith("FFC7CE")
            assert out_of_area["nik"].value == "6408011203850004" and out_of_area["nik"].data_type == "s"
        finally:
            await pool.close()
    finally:
        server.should_exit = True
        await serving
