"""The enrolment service's command line: ``migrate`` and ``serve`` (shared.service), and the operator's jobs.

``python -m services.enrolment sync-funding-sources``
``python -m services.enrolment export-roster --month 2026-12 --format csv|xlsx --out F``
``python -m services.enrolment import-bpjs-response F``
``python -m services.enrolment renew --from-year 2026 --to-year 2027``

Each builds the service's ``Deps`` over a small pool of its own (promotions follow the configured adapter: local
numbers at once, else pending BPJS) and calls the handlers, as the running service does.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from services.enrolment import commands
from services.enrolment.app import SPEC
from services.enrolment.bootstrap import Deps, make_deps
from services.enrolment.errors import QuotaBelowSeatsTaken, RenewalRefused
from services.enrolment.handlers import files, funding, renewal
from services.enrolment.settings import EnrolmentSettings
from shared import db, logs, messaging
from shared.service import main
from shared.settings import ServiceSettings

log = logs.get_logger(__name__)
T = TypeVar("T")


def _with_deps(settings: ServiceSettings, job: Callable[[Deps], Awaitable[T]]) -> T:
    if not isinstance(settings, EnrolmentSettings):
        raise TypeError("the enrolment commands need the enrolment settings")

    async def run() -> T:
        pool = await db.create_pool(settings.database_url, 1, 2)
        try:
            return await job(make_deps(pool, settings))
        finally:
            await pool.close()

    return asyncio.run(run())


def sync_funding_sources_command(settings: ServiceSettings, _args: list[str]) -> int:
    """Apply the funding source configuration and exit."""
    try:
        _with_deps(
            settings, lambda deps: messaging.run(deps, funding.sync_funding_sources, commands.SyncFundingSources())
        )
    except QuotaBelowSeatsTaken:
        return 1  # already logged with the reason
    return 0


def export_roster_command(settings: ServiceSettings, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services.enrolment export-roster")
    parser.add_argument("--month", required=True, help="YYYY-MM: the month cover starts")
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--out", required=True, type=Path)
    ns = parser.parse_args(args)
    count = _with_deps(settings, lambda deps: files.export_roster(deps, ns.month, ns.format, ns.out))
    log.info("roster exported", month=ns.month, format=ns.format, seats=count, out=str(ns.out))
    return 0


def import_response_command(settings: ServiceSettings, args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="services.enrolment import-bpjs-response")
    parser.add_argument("file", type=Path)
    ns = parser.parse_args(args)
    result, errors = _with_deps(settings, lambda deps: files.import_response(deps, ns.file))
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
    command = commands.Renew(from_year=ns.from_year, to_year=ns.to_year)
    try:
        _with_deps(settings, lambda deps: renewal.renew(deps, command))
    except (RenewalRefused, QuotaBelowSeatsTaken) as exc:
        log.error("renewal refused", error=str(exc))
        return 1
    return 0


if __name__ == "__main__":
    main(
        SPEC,
        "services.enrolment.app:create",
        commands={
            "sync-funding-sources": sync_funding_sources_command,
            "export-roster": export_roster_command,
            "import-bpjs-response": import_response_command,
            "renew": renew_command,
        },
    )
