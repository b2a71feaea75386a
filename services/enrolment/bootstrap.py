"""What every enrolment handler needs, built once: the pool, the settings and the BPJS adapters (``Deps``).

``PAYUNG_BPJS_ADAPTER`` decides how a new seat gets its number: ``local`` gives ``Deps.issuer`` (numbers at once,
in the seating transaction); ``http`` and ``file`` leave it None (seats wait as ``pending_bpjs``), ``http`` with
``Deps.bpjs``, the client the registrar job sends them with.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from fastapi import Request

from services.enrolment import commands
from services.enrolment.adapters.bpjs_http import HttpBpjsClient, HttpConfig
from services.enrolment.adapters.local_issuer import LocalNumberIssuer
from services.enrolment.domain import RateLimiter
from services.enrolment.handlers import funding, registrar
from services.enrolment.settings import EnrolmentSettings
from shared import messaging, service
from shared.jobs import Job


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    topic_prefix: str
    settings: EnrolmentSettings
    issuer: LocalNumberIssuer | None  # set: seats are numbered at once; None: they wait for BPJS's answer
    bpjs: HttpBpjsClient | None  # the registrar's client (``http`` adapter only)
    enrolled_limiter: RateLimiter  # the DCI enrolment check, per partner


def make_deps(pool: asyncpg.Pool, settings: EnrolmentSettings, bpjs: HttpBpjsClient | None = None) -> Deps:
    """The service's deps over ``pool`` (the command line's too: its promotions follow the configured adapter)."""
    return Deps(
        pool=pool,
        topic_prefix=settings.topic_prefix,
        settings=settings,
        issuer=LocalNumberIssuer() if settings.bpjs_adapter == "local" else None,
        bpjs=bpjs,
        enrolled_limiter=RateLimiter(settings.enrolment_check_per_minute),
    )


def http_config(settings: EnrolmentSettings) -> HttpConfig:
    return HttpConfig(
        url=settings.bpjs_url,
        token=settings.bpjs_token,
        timeout_s=settings.bpjs_timeout_s,
        attempts=settings.bpjs_attempts,
        backoff_s=settings.bpjs_backoff_s,
    )


@contextlib.asynccontextmanager
async def bootstrap(rt: service.Runtime[EnrolmentSettings]) -> AsyncIterator[Deps]:
    settings = rt.settings
    client = HttpBpjsClient(http_config(settings)) if settings.bpjs_adapter == "http" else None
    try:
        deps = make_deps(rt.pool, settings, client)
        # Quotas must be in the database before the first batch is allocated; a refused configuration stops startup.
        await messaging.run(deps, funding.sync_funding_sources, commands.SyncFundingSources())
        yield deps
    finally:
        if client is not None:
            await client.aclose()


def jobs(deps: Deps) -> list[Job]:
    """The registrar, with the ``http`` adapter only: ``local`` numbers at once, ``file`` waits for the import."""
    if deps.bpjs is None:
        return []
    return [registrar.job(deps, deps.bpjs)]


async def deps(request: Request) -> Deps:
    """FastAPI dependency: the running service's deps."""
    return service.deps_of(request, Deps)
