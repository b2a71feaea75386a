"""Loading a civil-registry extract (CSV) as the service's registry snapshot.

``python -m services.verification load-registry FILE.csv [--source NAME]``: the header must be exactly the
Dukcapil columns (``repository.REGISTRY_COLUMNS``); the rows are COPYed into a temporary table, checked (16-digit
unique NIKs, known sex and status codes, dotted village codes, dates), and then replace the live rows in one
transaction together with the ``registry_snapshots`` row, so readers see the old registry or the new one, never a
half-loaded one. A refused file leaves the live registry untouched and the command exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from services.verification import repository
from shared import db
from shared.errors import PayungError
from shared.logs import get_logger, mask_text
from shared.settings import ServiceSettings

log = get_logger(__name__)

EXIT_REFUSED = 2


class RegistryFileRefused(PayungError):
    """The file is not a loadable registry extract; the message says why."""


@dataclass(frozen=True)
class LoadResult:
    snapshot_id: int
    rows: int
    sha256: str
    seconds: float


def check_header(path: Path) -> None:
    """Refuse a file whose first line is not exactly the registry columns, in order."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryFileRefused(f"{path}: cannot read the file ({type(exc).__name__}: {exc})") from None
    header = [h.strip() for h in header]
    expected = list(repository.REGISTRY_COLUMNS)
    if header == expected:
        return
    missing = [c for c in expected if c not in header]
    unexpected = [c for c in header if c not in expected]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:5])}")
    if not problems:
        problems.append("columns in the wrong order")
    raise RegistryFileRefused(f"{path}: wrong header ({'; '.join(problems)}). Expected exactly: {','.join(expected)}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def load_snapshot(dsn: str, path: Path, source_name: str | None = None) -> LoadResult:
    """Load ``path`` as the new registry snapshot or raise ``RegistryFileRefused``."""
    started = time.perf_counter()
    check_header(path)
    digest = await asyncio.to_thread(sha256_of, path)
    conn = await db.connect(dsn)
    try:
        await repository.create_staging(conn)
        try:
            rows = await repository.copy_into_staging(conn, path)
        except (asyncpg.DataError, asyncpg.BadCopyFileFormatError) as exc:
            # The context names the line and column; the row's text after it is personal data, left out.
            where = f" ({exc.context.split(': ', 1)[0]})" if getattr(exc, "context", None) else ""
            raise RegistryFileRefused(f"{path}: refused, {mask_text(exc.message)}{where}") from None
        if rows == 0:
            raise RegistryFileRefused(f"{path}: no rows: an empty registry would reject everyone")
        problems = await repository.staging_problems(conn)
        if problems:
            listed = ", ".join(f"{kind}: {count} rows" for kind, count in problems.items())
            raise RegistryFileRefused(f"{path}: refused, {listed}")
        async with conn.transaction():
            snapshot_id = await repository.replace_registry(conn, source_name or path.name, rows, digest)
        await repository.tidy_registry(conn)
    finally:
        await conn.close()
    return LoadResult(snapshot_id, rows, digest, time.perf_counter() - started)


def command(settings: ServiceSettings, args: list[str]) -> int:
    """The ``load-registry`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification load-registry", description=__doc__)
    parser.add_argument("file", type=Path, help="Civil-registry CSV extract")
    parser.add_argument("--source", help="Name recorded for the snapshot (default: the file name)")
    options = parser.parse_args(args)
    try:
        result = asyncio.run(load_snapshot(settings.database_url, options.file, options.source))
    except RegistryFileRefused as exc:
        print(f"load-registry: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except asyncpg.UndefinedTableError:
        print("load-registry: the registry tables do not exist: run `migrate` first", file=sys.stderr)
        return 1
    log.info("registry loaded", snapshot_id=result.snapshot_id, rows=result.rows, seconds=round(result.seconds, 2))
    print(f"loaded {result.rows} rows in {result.seconds:.1f} s: snapshot {result.snapshot_id}, sha256 {result.sha256}")
    return 0
