"""Loading the roster of active BPJS Ketenagakerjaan wage-earner participants (the employment layer's data).

``python -m services.verification load-wage-earners FILE.csv [--source NAME]``: a CSV whose first line is ``NIK``
and then one NIK per line (the extract BPJS Ketenagakerjaan shares: active participants "penerima upah"). The rows
are COPYed into a temporary table, refused whole if a NIK is not 16 digits, and replace the live roster in one
transaction. A person on the roster is rejected with ``WAGE_EARNER``: employed people are not the programme's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

from services.verification import repository
from services.verification.snapshot_loader import EXIT_REFUSED, RegistryFileRefused, sha256_of
from shared import db
from shared.logs import get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)


async def load_roster(dsn: str, path: Path, source_name: str | None = None) -> tuple[int, int]:
    """Load ``path`` as the wage-earner roster; returns (snapshot id, NIKs) or raises ``RegistryFileRefused``."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            header = handle.readline().strip()
    except OSError as exc:
        raise RegistryFileRefused(f"{path}: cannot read the file ({exc})") from None
    if header != "NIK":
        raise RegistryFileRefused(f"{path}: wrong header {header[:40]!r}: expected exactly NIK")
    digest = await asyncio.to_thread(sha256_of, path)
    conn = await db.connect(dsn)
    try:
        await repository.create_roster_staging(conn)
        try:
            await repository.copy_roster(conn, path)
        except (asyncpg.DataError, asyncpg.BadCopyFileFormatError) as exc:
            raise RegistryFileRefused(f"{path}: refused ({type(exc).__name__})") from None
        bad = await repository.roster_problems(conn)
        if bad:
            raise RegistryFileRefused(f"{path}: refused, nik_not_16_digits: {bad} rows")
        async with conn.transaction():
            return await repository.replace_roster(conn, source_name or path.name, digest)
    finally:
        await conn.close()


def command(settings: ServiceSettings, args: list[str]) -> int:
    """The ``load-wage-earners`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification load-wage-earners", description=__doc__)
    parser.add_argument("file", type=Path, help="CSV: header NIK, one NIK per line")
    parser.add_argument("--source", help="Name recorded for the roster (default: the file name)")
    options = parser.parse_args(args)
    try:
        snapshot_id, count = asyncio.run(load_roster(settings.database_url, options.file, options.source))
    except RegistryFileRefused as exc:
        print(f"load-wage-earners: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    log.info("wage-earner roster loaded", snapshot_id=snapshot_id, niks=count)
    print(f"loaded {count} wage-earner NIKs: roster {snapshot_id}")
    return 0
