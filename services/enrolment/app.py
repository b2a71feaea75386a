"""Wiring of the enrolment service: settings, the BPJS gateway, the identity.verified subscription, HTTP routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.enrolment import api, bpjs, handlers
from services.enrolment.domain import QuotaBelowSeatsTaken
from services.enrolment.settings import EnrolmentSettings
from shared import db, topics
from shared.contracts import IdentityVerified
from shared.service import Runtime, ServiceSpec, Subscription, create_app
from shared.settings import ServiceSettings


@contextlib.asynccontextmanager
async def _setup(rt: Runtime) -> AsyncIterator[Sequence[Awaitable[None]]]:
    # Quotas must be in the database before the first batch is allocated; a refused configuration stops startup.
    await handlers.sync_funding_sources(rt.pool, cast(EnrolmentSettings, rt.settings))
    rt.resources["bpjs"] = bpjs.LocalNumberIssuer()
    yield ()


def _subscriptions(rt: Runtime) -> list[Subscription]:
    settings = cast(EnrolmentSettings, rt.settings)
    handler = handlers.identity_verified(settings, rt.resources["bpjs"])
    return [Subscription(topics.IDENTITY_VERIFIED, IdentityVerified, handler)]


SPEC = ServiceSpec(
    name="enrolment",
    settings_cls=EnrolmentSettings,
    migrations=Path(__file__).parent / "migrations",
    title="Payung enrolment",
    subscriptions=_subscriptions,
    routers=(api.router,),
    setup=_setup,
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
