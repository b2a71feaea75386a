"""Command-line jobs of the enrolment service: the BPJS file exchange and the yearly renewal.

``python -m services.enrolment export-roster --month 2026-12 --format csv|xlsx --out F``
``python -m services.enrolment import-bpjs-response F``
``python -m services.enrolment renew --from-year 2026 --to-year 2027``
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import asyncpg

from services.enrolment import bpjs_files, domain, lifecycle, renewal
from services.enrolment import repository_lifecycle as lrepo
from services.enrolment.settings import EnrolmentSettings
from shared import db, logs
from shared.settings import ServiceSettings

log = logs.get_logger(__name__)


def _with_pool(settings: ServiceSettings, job: Callable[[asyncpg.Pool], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        pool = await db.create_pool(settings.database_url, 1, 2)
        try:
            return await job(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


async def export_roster(pool: asyncpg.Pool, month: str, fmt: str, out: Path) -> int:
    """Write the roster of the seats waiting for BPJS whose cover starts in ``month`` (YYYY-MM)."""
    first = date.fromisoformat(f"{month}-01")
    seats = await lrepo.roster(pool, first, domain.last_day_of_month(first))
    return bpjs_files.write_roster([lifecycle.request_from_seat(s) for s in seats], out, fmt)


async def import_response(pool: asyncpg.Pool, seating: lifecycle.Seating, path: Path) -> tuple[Any, list[str]]:
    parsed = bpjs_files.parse_response(bpjs_files.read_table(path))
    async with pool.acquire() as conn, conn.transaction():
        result = await lifecycle.apply_answers(conn, seating, parsed.answers, recorded_by=f"bpjs:file:{path.name}")
    return result, parsed.errors


def export_roster_command(settings: ServiceSettings, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services.enrolment export-roster")
    parser.add_argument("--month", required=True, help="YYYY-MM: the month cover starts")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--out", required=True, type=Path)
    ns = parser.parse_args(args)
    count = _with_pool(settings, lambda pool: export_roster(pool, ns.month, ns.format, ns.out))
    log.info("roster exported", month=ns.month, format=ns.format, seats=count, out=str(ns.out))
    return 0


def import_response_command(settings: ServiceSettings, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services.enrolment import-bpjs-response")
    parser.add_argument("file", type=Path)
    ns = parser.parse_args(args)
    # Promotions made by a command follow the service's adapter: local numbers at once, else pending BPJS.
    seating = lifecycle.seating_for(cast(EnrolmentSettings, settings))
    result, errors = _with_pool(settings, lambda pool: import_response(pool, seating, ns.file))
    for error in errors:
        log.error("response row not applied", file=ns.file.name, error=error)
    log.info("bpjs response imported", confirmed=result.confirmed, refused=result.refused,
             skipped=len(result.skipped), errors=len(errors))  # fmt: skip
    return 1 if errors else 0


def renew_command(settings: ServiceSettings, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services.enrolment renew")
    parser.add_argument("--from-year", type=int, required=True)
    parser.add_argument("--to-year", type=int, required=True)
    ns = parser.parse_args(args)
    # Promotions made by a command follow the service's adapter: local numbers at once, else pending BPJS.
    seating = lifecycle.seating_for(cast(EnrolmentSettings, settings))
    try:
        _with_pool(settings, lambda pool: renewal.renew(pool, seating, ns.from_year, ns.to_year))
    except (renewal.RenewalRefused, domain.QuotaBelowSeatsTaken) as exc:
        log.error("renewal refused", error=str(exc))
        return 1
    return 0
