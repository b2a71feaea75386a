"""What the reporting service's handlers need, built once when it starts: the pool, the settings, the Kafka health
reader (started here, closed on shutdown), the region list and the projected kecamatan map."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import Request

from services.reporting.adapters import boundaries, population_csv
from services.reporting.adapters.kafka_health import KafkaHealth
from services.reporting.commands import LoadPopulation, RunForecast
from services.reporting.domain import geomap
from services.reporting.handlers import outreach
from services.reporting.settings import ReportingSettings
from shared import db, messaging, service, topology
from shared.jobs import Job
from shared.regions import RegionIndex, default_regions
from shared.service import Runtime
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    topic_prefix: str
    settings: ReportingSettings
    kafka_health: KafkaHealth
    regions: RegionIndex
    kecamatan_map: geomap.Frame  # the programme regency's kecamatan, projected once


@contextlib.asynccontextmanager
async def bootstrap(rt: Runtime[ReportingSettings]) -> AsyncIterator[Deps]:
    settings = rt.settings
    health = KafkaHealth(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        topology.consumers(),
        settings.health_cache_s,
        settings.kafka_client_options(),
    )
    await health.start()
    try:
        yield Deps(
            pool=rt.pool,
            topic_prefix=settings.topic_prefix,
            settings=settings,
            kafka_health=health,
            regions=default_regions(),
            kecamatan_map=geomap.shapes(boundaries.kecamatan_features(settings.programme_regency)),
        )
    finally:
        await health.close()


def jobs(deps: Deps) -> list[Job]:
    """The daily forecast of unfilled seats (handlers/outreach.py); the read model is fed by the consumer alone,
    and Kafka health is read when a report asks for it."""
    settings = deps.settings
    if not settings.forecast_enabled:
        return []
    return [Job("forecast", functools.partial(outreach.step, deps), settings.forecast_poll_interval_s)]


async def deps(request: Request) -> Deps:
    """FastAPI dependency: the running service's Deps."""
    return service.deps_of(request, Deps)


def population_command(settings: ServiceSettings, args: list[str]) -> int:
    """``python -m services.reporting population load FILE``: replace the eligible population per desa."""
    if len(args) != 2 or args[0] != "load" or not isinstance(settings, ReportingSettings):
        print("usage: python -m services.reporting population load FILE")
        return 2
    try:
        rows = population_csv.read(Path(args[1]))
    except FileNotFoundError:
        print("no such file")
        return 2
    except population_csv.PopulationFileError as exc:
        for line, column, rule in exc.problems[:50]:
            print(f"line {line}, {column}: {rule}")
        return 1
    loaded = asyncio.run(_offline(settings, outreach.load_population, LoadPopulation(rows=tuple(rows))))
    print(f"desa loaded: {loaded}")
    return 0


def forecast_command(settings: ServiceSettings, args: list[str]) -> int:
    """``python -m services.reporting forecast [YYYY-MM-DD]``: the day's forecast now (recorded and published once
    per source and day, as the daily job does); prints each source's figures."""
    if len(args) > 1 or not isinstance(settings, ReportingSettings):
        print("usage: python -m services.reporting forecast [YYYY-MM-DD]")
        return 2
    try:
        as_of = date.fromisoformat(args[0]) if args else outreach.local_today()
    except ValueError:
        print("the date must be YYYY-MM-DD")
        return 2
    for a in asyncio.run(_offline(settings, outreach.run_forecast, RunForecast(as_of=as_of))):
        state = "published" if a["published"] else "recorded" if a["recorded"] else "already recorded today"
        print(f"{a['funding_source']}: seats left {a['seats_left']}, unspent Rp{a['unspent_rupiah']:,} ({state})")
    return 0


async def _offline(settings: ReportingSettings, handler: Any, command: Any) -> Any:
    """Run one handler outside a running service (its Kafka health reader not started, no map)."""
    pool = await db.create_pool(settings.database_url, 1, 1)
    try:
        health = KafkaHealth(settings.kafka_bootstrap, settings.topic_prefix, topology.consumers())
        deps = Deps(pool, settings.topic_prefix, settings, health, default_regions(), geomap.shapes([]))
        return await messaging.run(deps, handler, command)
    finally:
        await pool.close()
