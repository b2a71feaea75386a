"""Wiring of the enrolment service: settings, the BPJS adapter, the subscriptions, HTTP routes, the registrar."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.enrolment import api, bpjs, enrolled, handlers, lifecycle, registrar
from services.enrolment.domain import QuotaBelowSeatsTaken
from services.enrolment.settings import EnrolmentSettings
from shared import db, topics
from shared.auth import Role
from shared.contracts import IdentityVerified, RegistryPersonUpdated
from shared.service import Runtime, ServiceSpec, Subscription, create_app
from shared.settings import ServiceSettings


@contextlib.asynccontextmanager
async def _setup(rt: Runtime[EnrolmentSettings]) -> AsyncIterator[Sequence[Awaitable[None]]]:
    # Quotas must be in the database before the first batch is allocated; a refused configuration stops startup.
    settings = rt.settings
    await handlers.sync_funding_sources(rt.pool, settings)
    background: list[Awaitable[None]] = []
    client: bpjs.HttpBpjsClient | None = None
    # local: numbers at once; http: the registrar confirms pending seats; file: the response import does.
    seating = lifecycle.seating_for(settings)
    if settings.bpjs_adapter == "http":
        client = bpjs.HttpBpjsClient(http_config(settings))
        background.append(registrar.run(rt.pool, seating, client))
    rt.resources["seating"] = seating
    rt.resources["enrolled_limiter"] = enrolled.RateLimiter(settings.enrolment_check_per_minute)
    try:
        yield background
    finally:
        if client is not None:
            await client.aclose()


def http_config(settings: EnrolmentSettings) -> bpjs.HttpConfig:
    return bpjs.HttpConfig(
        url=settings.bpjs_url,
        token=settings.bpjs_token,
        timeout_s=settings.bpjs_timeout_s,
        attempts=settings.bpjs_attempts,
        backoff_s=settings.bpjs_backoff_s,
    )


def _subscriptions(rt: Runtime[EnrolmentSettings]) -> list[Subscription]:
    seating = cast(lifecycle.Seating, rt.resources["seating"])
    return [
        Subscription(
            topics.IDENTITY_VERIFIED, IdentityVerified, handlers.identity_verified(seating.settings, seating.gateway)
        ),
        Subscription(
            topics.REGISTRY_PERSON_UPDATED,
            RegistryPersonUpdated,
            handlers.registry_person_updated(seating.settings, seating.gateway),
        ),
    ]


SPEC = ServiceSpec(
    name="enrolment",
    settings_cls=EnrolmentSettings,
    migrations=Path(__file__).parent / "migrations",
    title="Payung enrolment",
    subscriptions=_subscriptions,
    routers=(api.router, enrolled.router),
    setup=_setup,
    # Other agencies' systems reach only the DCI enrolment check (yes/no), nothing else of the API.
    route_roles={"POST /dci/registry/sync/enrolled": frozenset({Role.PARTNER_AGENCY, Role.PROGRAMME_ADMIN})},
)


def create() -> FastAPI:
    return create_app(SPEC)


def sync_funding_sources_command(settings: ServiceSettings, _args: list[str]) -> int:
    """``python -m services.enrolment sync-funding-sources``: apply the funding source configuration and exit."""

    async def run() -> None:
        pool = await db.create_pool(settings.database_url, 1, 1)
        try:
            await handlers.sync_funding_sources(pool, cast(EnrolmentSettings, settings))
        finally:
            await pool.close()

    try:
        asyncio.run(run())
    except QuotaBelowSeatsTaken:
        return 1  # already logged with the reason
    return 0
