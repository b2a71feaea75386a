"""Loading a civil-registry extract (CSV) as the service's registry snapshot.

``python -m services.verification load-registry FILE.csv [--source NAME]``: the header must be exactly the
Dukcapil columns (``repository.REGISTRY_COLUMNS``); the rows are COPYed into a temporary table, checked (16-digit
unique NIKs, known sex and status codes, dotted village codes, dates), and then replace the live rows in one
transaction together with the ``registry_snapshots`` row, so readers see the old registry or the new one, never a
half-loaded one. A refused file leaves the live registry untouched and the command exits non-zero.

Life events: in the same transaction, verified people whose new row says they died, became inactive or now live
outside the programme's regency (compared with their row in the replaced snapshot) are announced with
``RegistryPersonUpdated`` through the outbox, so the swap and its events commit together or not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.verification import domain, repository
from services.verification.domain import RegistryRecord
from services.verification.registry import to_record
from shared import db, outbox
from shared.contracts import Envelope, RegistryPersonUpdated, new_envelope
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
    life_events: int = 0


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


async def load_snapshot(
    dsn: str, path: Path, source_name: str | None = None, topic_prefix: str = "", today: date | None = None
) -> LoadResult:
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
            context = getattr(exc, "context", None)
            where = f" ({context.split(': ', 1)[0]})" if context else ""
            raise RegistryFileRefused(f"{path}: refused, {mask_text(exc.message)}{where}") from None
        if rows == 0:
            raise RegistryFileRefused(f"{path}: no rows: an empty registry would reject everyone")
        problems = await repository.staging_problems(conn)
        if problems:
            listed = ", ".join(f"{kind}: {count} rows" for kind, count in problems.items())
            raise RegistryFileRefused(f"{path}: refused, {listed}")
        async with conn.transaction():
            changed = await repository.changed_verified_people(conn)
            snapshot_id = await repository.replace_registry(conn, source_name or path.name, rows, digest)
            events = life_events(changed, snapshot_id, today or datetime.now(domain.WITA).date())
            await outbox.add_events(conn, events, topic_prefix)
        await repository.tidy_registry(conn)
    finally:
        await conn.close()
    return LoadResult(snapshot_id, rows, digest, time.perf_counter() - started, len(events))


def _record(row: asyncpg.Record | Mapping[str, Any], side: str) -> RegistryRecord | None:
    if row[f"{side}_nik"] is None:
        return None
    return to_record({k.removeprefix(f"{side}_"): v for k, v in row.items() if k.startswith(f"{side}_")})


def life_events(
    changed: Sequence[asyncpg.Record | Mapping[str, Any]], snapshot_id: int, effective: date
) -> list[Envelope[RegistryPersonUpdated]]:
    """``RegistryPersonUpdated`` for each verified person the new snapshot shows dead, inactive or moved out.

    The registry extract carries no date of death or move: the effective date is the day of the load.
    """
    events = []
    for row in changed:
        new = _record(row, "new")
        assert new is not None
        change = domain.life_event(_record(row, "old"), new, row["programme_regency"])
        if change is None:
            continue
        kind, new_regency = change
        payload = RegistryPersonUpdated(
            nomination_id=row["nomination_id"],
            nik=row["nik"],
            change=kind,
            effective_date=effective,
            new_regency=new_regency,
            snapshot_id=snapshot_id,
        )
        events.append(
            new_envelope(
                payload, producer="verification", person_key=row["person_key"], correlation_id=row["nomination_id"]
            )
        )
    return events


def command(settings: ServiceSettings, args: list[str]) -> int:
    """The ``load-registry`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification load-registry", description=__doc__)
    parser.add_argument("file", type=Path, help="Civil-registry CSV extract")
    parser.add_argument("--source", help="Name recorded for the snapshot (default: the file name)")
    options = parser.parse_args(args)
    try:
        result = asyncio.run(load_snapshot(settings.database_url, options.file, options.source, settings.topic_prefix))
    except RegistryFileRefused as exc:
        print(f"load-registry: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except asyncpg.UndefinedTableError:
        print("load-registry: the registry tables do not exist: run `migrate` first", file=sys.stderr)
        return 1
    log.info("registry loaded", snapshot_id=result.snapshot_id, rows=result.rows, seconds=round(result.seconds, 2))
    print(
        f"loaded {result.rows} rows in {result.seconds:.1f} s: snapshot {result.snapshot_id}, sha256 {result.sha256}, "
        f"{result.life_events} life events"
    )
    return 0
