"""Loading a civil-registry extract (CSV) as the service's registry snapshot, and the wage-earner roster.

``python -m services.verification load-registry FILE.csv [--source NAME]``: the header must be exactly the
Dukcapil columns (``repository.REGISTRY_COLUMNS``); the rows are COPYed into a temporary table, checked (16-digit
unique NIKs, known sex and status codes, dotted village codes, dates), and then replace the live rows in one
transaction together with the ``registry_snapshots`` row, so readers see the old registry or the new one, never a
half-loaded one. A refused file leaves the live registry untouched and the command exits non-zero.

Life events: in the same transaction, verified people whose new row says they died, became inactive or now live
outside the programme's regency (compared with their row in the replaced snapshot) are announced with
``RegistryPersonUpdated`` through the outbox, so the swap and its events commit together or not at all.

``python -m services.verification load-wage-earners FILE.csv [--source NAME]``: a CSV whose first line is ``NIK``
and then one NIK per line (the extract BPJS Ketenagakerjaan shares: active participants "penerima upah"). The rows
are COPYed into a temporary table, refused whole if a NIK is not 16 digits, and replace the live roster in one
transaction. A person on the roster is rejected with ``WAGE_EARNER``: employed people are not the programme's.

Each load is one transaction (``messaging.run``: staging, checks, swap and events; a refused file rolls it all
back), then the registry table is vacuumed outside it. The command lines are in ``__main__``.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.verification import domain
from services.verification.adapters.registry import to_record
from services.verification.commands import LoadRegistry, LoadRoster
from services.verification.domain import RegistryRecord
from services.verification.errors import RegistryFileRefused
from services.verification.repository import registry as repository
from shared import db, messaging
from shared.contracts import Envelope, RegistryPersonUpdated, new_envelope
from shared.db import Conn
from shared.logs import get_logger, mask_text
from shared.messaging import Handled

log = get_logger(__name__)

EXIT_REFUSED = 2


@dataclass(frozen=True)
class Loading:
    """What a load needs: a database and the topics' prefix (the command line has no running service)."""

    pool: asyncpg.Pool
    topic_prefix: str = ""


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
    effective = today or datetime.now(domain.WITA).date()
    pool = await db.create_pool(dsn, 1, 1)
    try:
        cmd = LoadRegistry(path=path, source_name=source_name, sha256=digest, today=effective)
        snapshot_id, rows, events = await messaging.run(Loading(pool, topic_prefix), load_registry, cmd)
        async with pool.acquire() as conn:
            await repository.tidy_registry(conn)  # VACUUM: outside any transaction
    finally:
        await pool.close()
    return LoadResult(snapshot_id, rows, digest, time.perf_counter() - started, events)


async def load_registry(deps: Loading, conn: Conn, cmd: LoadRegistry) -> Handled[tuple[int, int, int]]:
    """Stage, check and swap in the file; answers (snapshot id, rows, life events) with the life events."""
    path = cmd.path
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
    changed = await repository.changed_verified_people(conn)
    snapshot_id = await repository.replace_registry(conn, cmd.source_name or path.name, rows, cmd.sha256)
    events = life_events(changed, snapshot_id, cmd.today)
    return Handled((snapshot_id, rows, len(events)), events)


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
    pool = await db.create_pool(dsn, 1, 1)
    try:
        cmd = LoadRoster(path=path, source_name=source_name, sha256=digest)
        return await messaging.run(Loading(pool), replace_roster, cmd)
    finally:
        await pool.close()


async def replace_roster(deps: Loading, conn: Conn, cmd: LoadRoster) -> Handled[tuple[int, int]]:
    await repository.create_roster_staging(conn)
    try:
        await repository.copy_roster(conn, cmd.path)
    except (asyncpg.DataError, asyncpg.BadCopyFileFormatError) as exc:
        raise RegistryFileRefused(f"{cmd.path}: refused ({type(exc).__name__})") from None
    bad = await repository.roster_problems(conn)
    if bad:
        raise RegistryFileRefused(f"{cmd.path}: refused, nik_not_16_digits: {bad} rows")
    return Handled(await repository.replace_roster(conn, cmd.source_name or cmd.path.name, cmd.sha256))


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
