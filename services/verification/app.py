"""Wiring of the verification service: settings, the registry adapter, the subscription, the retry task, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.verification import api, domain, workspace
from services.verification.handlers import Verifier
from services.verification.registry import CivilRegistry, SnapshotRegistry
from services.verification.registry_http import HttpRegistry, HttpRegistryConfig
from services.verification.settings import VerificationSettings
from shared import topics
from shared.auth import Role
from shared.contracts import NominationSubmitted
from shared.logs import get_logger
from shared.regions import load_regions
from shared.service import Runtime, ServiceSpec, Subscription, create_app
from shared.websession import WebSignInSettings, install

log = get_logger(__name__)


def policy(settings: VerificationSettings) -> domain.Policy:
    return domain.Policy(
        name_match_threshold=settings.name_match_threshold,
        min_age=settings.min_age,
        max_age=settings.max_age,
        informal_occupations=frozenset(settings.informal_occupations),
        letter_required_for=frozenset(settings.letter_required_for),
        duplicate_name_threshold=settings.duplicate_name_threshold,
    )


def http_config(settings: VerificationSettings) -> HttpRegistryConfig:
    return HttpRegistryConfig(
        url=settings.registry_url,
        user_id=settings.registry_user,
        password=settings.registry_password.get_secret_value(),
        ip_user=settings.registry_ip,
        timeout_s=settings.registry_timeout_s,
        rate_per_s=settings.registry_rate_per_s,
        burst=settings.registry_burst,
        concurrency=settings.registry_concurrency,
        attempts=settings.registry_attempts,
        backoff_s=settings.registry_backoff_s,
        breaker_failures=settings.registry_breaker_failures,
        breaker_reset_s=settings.registry_breaker_reset_s,
        cache_ttl_s=settings.registry_cache_ttl_s,
    )


async def retry_pending_forever(rt: Runtime, verifier: Verifier, poll_s: float, batch: int) -> None:
    """Decide due pending look-ups again, batch by batch; idle for ``poll_s`` when none is due."""
    while True:
        try:
            async with rt.pool.acquire() as conn, conn.transaction():
                due = await verifier.retry_pending(conn, batch)
        except Exception:  # the next round tries again; a dead registry must not end the task
            log.exception("retrying pending look-ups failed")
            due = 0
        if due < batch:
            await asyncio.sleep(poll_s)


@contextlib.asynccontextmanager
async def _setup(rt: Runtime) -> AsyncIterator[Sequence[Awaitable[None]]]:
    settings = cast(VerificationSettings, rt.settings)
    http: HttpRegistry | None = None
    registry: CivilRegistry
    if settings.registry_adapter == "http":
        registry = http = HttpRegistry(http_config(settings), rt.pool)
    else:
        registry = SnapshotRegistry(rt.pool)
    verifier = Verifier(
        registry=registry,
        regions=load_regions(settings.region_data_file, settings.region_data_version),
        policy=policy(settings),
        topic_prefix=settings.topic_prefix,
        retry_base_s=settings.pending_retry_base_s,
        retry_max_s=settings.pending_retry_max_s,
    )
    rt.resources["verifier"] = verifier
    try:
        yield [retry_pending_forever(rt, verifier, settings.pending_poll_s, settings.consumer_max_records)]
    finally:
        if http is not None:
            await http.aclose()


def _subscriptions(rt: Runtime) -> list[Subscription]:
    verifier = cast(Verifier, rt.resources["verifier"])
    return [Subscription(topics.NOMINATION_SUBMITTED, NominationSubmitted, verifier.nominations_submitted)]


SPEC = ServiceSpec(
    name="verification",
    title="Payung verification service",
    settings_cls=VerificationSettings,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=_subscriptions,
    routers=[api.router],
    # the reviewer's workspace guards itself (shared.websession.page_guard): a signed-in person or an API key
    public_routers=[workspace.router],
    body_limits=lambda _s: {"POST /ruang-kerja/{review_id}/keputusan": 16 * 1024},
    setup=_setup,
    # Reads take the default readers (verifier, programme admin, auditor); deciding a review is the verifiers' job.
    route_roles={"POST /v1/reviews/{review_id}/decision": frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN})},
)


def create(settings: VerificationSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings)
    install(app, web)  # sign-in for the reviewer's workspace (shared/websession.py)
    return app
