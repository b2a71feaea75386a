"""``python -m services.verification migrate|serve|load-registry|load-wage-earners|recheck``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

from services.verification.app import SPEC
from services.verification.bootstrap import open_deps
from services.verification.errors import RegistryFileRefused
from services.verification.handlers import loads, recheck
from services.verification.settings import VerificationSettings
from shared import db
from shared.logs import get_logger
from shared.service import main
from shared.settings import ServiceSettings

log = get_logger("services.verification")


def load_registry(settings: ServiceSettings, args: list[str]) -> int:
    """The ``load-registry`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification load-registry", description=loads.__doc__)
    parser.add_argument("file", type=Path, help="Civil-registry CSV extract")
    parser.add_argument("--source", help="Name recorded for the snapshot (default: the file name)")
    options = parser.parse_args(args)
    try:
        result = asyncio.run(
            loads.load_snapshot(settings.database_url, options.file, options.source, settings.topic_prefix)
        )
    except RegistryFileRefused as exc:
        print(f"load-registry: {exc}", file=sys.stderr)
        return loads.EXIT_REFUSED
    except asyncpg.UndefinedTableError:
        print("load-registry: the registry tables do not exist: run `migrate` first", file=sys.stderr)
        return 1
    log.info("registry loaded", snapshot_id=result.snapshot_id, rows=result.rows, seconds=round(result.seconds, 2))
    print(
        f"loaded {result.rows} rows in {result.seconds:.1f} s: snapshot {result.snapshot_id}, sha256 {result.sha256}, "
        f"{result.life_events} life events"
    )
    return 0


def load_wage_earners(settings: ServiceSettings, args: list[str]) -> int:
    """The ``load-wage-earners`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification load-wage-earners", description=loads.__doc__)
    parser.add_argument("file", type=Path, help="CSV: header NIK, one NIK per line")
    parser.add_argument("--source", help="Name recorded for the roster (default: the file name)")
    options = parser.parse_args(args)
    try:
        snapshot_id, count = asyncio.run(loads.load_roster(settings.database_url, options.file, options.source))
    except RegistryFileRefused as exc:
        print(f"load-wage-earners: {exc}", file=sys.stderr)
        return loads.EXIT_REFUSED
    log.info("wage-earner roster loaded", snapshot_id=snapshot_id, niks=count)
    print(f"loaded {count} wage-earner NIKs: roster {snapshot_id}")
    return 0


async def _recheck(settings: VerificationSettings) -> recheck.RecheckResult:
    pool = await db.create_pool(settings.database_url, 1, 4)
    try:
        async with open_deps(settings, pool, dci_mode="sync") as deps:  # a sweep cannot wait for callbacks
            return await recheck.recheck(deps)
    finally:
        await pool.close()


def recheck_members(settings: ServiceSettings, args: list[str]) -> int:
    """The ``recheck`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification recheck", description=recheck.__doc__)
    parser.parse_args(args)
    assert isinstance(settings, VerificationSettings)  # main() builds the service's own settings class
    result = asyncio.run(_recheck(settings))
    announced = ", ".join(f"{k} {n}" for k, n in sorted(result.announced.items())) or "none"
    print(f"rechecked {result.checked} verified members: life events {announced}; registry could not answer "
          f"{result.unavailable}, not in the registry {result.not_found}")  # fmt: skip
    log.info("recheck done", checked=result.checked, unavailable=result.unavailable, not_found=result.not_found)
    return 1 if result.unavailable else 0


if __name__ == "__main__":
    main(
        SPEC,
        "services.verification.app:create",
        commands={"load-registry": load_registry, "load-wage-earners": load_wage_earners, "recheck": recheck_members},
    )
