"""What the reporting service's handlers need, built once when it starts: the pool, the settings, the Kafka health
reader (started here, closed on shutdown), the region list and the projected kecamatan map."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from fastapi import Request

from services.reporting.adapters import boundaries
from services.reporting.adapters.kafka_health import KafkaHealth
from services.reporting.domain import geomap
from services.reporting.settings import ReportingSettings
from shared import service, topology
from shared.jobs import Job
from shared.regions import RegionIndex, default_regions
from shared.service import Runtime


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


def jobs(_deps: Deps) -> list[Job]:
    """None: the read model is fed by the consumer alone, and Kafka health is read when a report asks for it."""
    return []


async def deps(request: Request) -> Deps:
    """FastAPI dependency: the running service's Deps."""
    return service.deps_of(request, Deps)
