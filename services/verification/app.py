"""Wiring of the verification service: settings, the registry adapter, the subscription, the retry task, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from typing import cast

import asyncpg
from fastapi import FastAPI

from services.verification import api, dci_api, domain, handlers, workspace
from services.verification.handlers import Verifier
from services.verification.registry import CivilRegistry, SnapshotRegistry
from services.verification.registry_dci import DciConfig, DciRegistry
from services.verification.registry_http import HttpRegistry, HttpRegistryConfig
from services.verification.settings import VerificationSettings
from shared import dci, topics
from shared.auth import Role
from shared.contracts import EnrolmentEnded, NominationSubmitted
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


def dci_registry(settings: VerificationSettings, pool: asyncpg.Pool) -> DciRegistry:
    config = DciConfig(
        url=settings.dci_url,
        sender_id=settings.dci_sender_id,
        receiver_id=settings.dci_receiver_id,
        callback_base=settings.dci_callback_base.rstrip("/"),
        mode=settings.dci_mode,
        purpose_code=settings.dci_purpose_code,
        purpose_text=settings.dci_purpose_text,
        subscribe_region=settings.dci_subscribe_region,
        timeout_s=settings.registry_timeout_s,
        rate_per_s=settings.registry_rate_per_s,
        burst=settings.registry_burst,
        attempts=settings.registry_attempts,
        backoff_s=settings.registry_backoff_s,
        breaker_failures=settings.registry_breaker_failures,
        breaker_reset_s=settings.registry_breaker_reset_s,
        cache_ttl_s=settings.registry_cache_ttl_s,
        callback_wait_s=settings.dci_callback_wait_s,
        batch_size=settings.dci_batch_size,
    )
    signer = dci.Signer.from_seed(
        settings.dci_sender_id, settings.dci_signing_key_id, settings.dci_signing_key.get_secret_value()
    )
    verifier = dci.Verifier.from_config(settings.dci_registry_keys, settings.dci_signature_skew_s)
    return DciRegistry(config, pool, signer, verifier, topic_prefix=settings.topic_prefix)


async def subscribe_forever(registry: DciRegistry, retry_s: float) -> None:
    """Subscribe to death events until the registry acknowledges (or a subscription already exists)."""
    while True:
        try:
            if await registry.subscribe():
                return
        except Exception:  # the next round tries again
            log.exception("DCI death subscription failed")
        await asyncio.sleep(retry_s)


async def retry_pending_forever(
    rt: Runtime[VerificationSettings], verifier: Verifier, poll_s: float, batch: int, wake: asyncio.Event | None = None
) -> None:
    """Decide due pending look-ups again, batch by batch; idle for ``poll_s`` when none is due (or until ``wake``
    is set: a DCI on-search callback has just answered some)."""
    while True:
        try:
            async with rt.pool.acquire() as conn, conn.transaction():
                due = await verifier.retry_pending(conn, batch)
        except Exception:  # the next round tries again; a dead registry must not end the task
            log.exception("retrying pending look-ups failed")
            due = 0
        if due < batch:
            if wake is None:
                await asyncio.sleep(poll_s)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_s)
            wake.clear()


@contextlib.asynccontextmanager
async def _setup(rt: Runtime[VerificationSettings]) -> AsyncIterator[Sequence[Awaitable[None]]]:
    settings = rt.settings
    http: HttpRegistry | DciRegistry | None = None
    registry: CivilRegistry
    background: list[Awaitable[None]] = []
    wake: asyncio.Event | None = None
    if settings.registry_adapter == "http":
        registry = http = HttpRegistry(http_config(settings), rt.pool)
    elif settings.registry_adapter == "dci":
        registry = http = rt.resources["dci"] = dci_registry(settings, rt.pool)
        wake = http.answered
        if settings.dci_subscribe_deaths:
            background.append(subscribe_forever(http, settings.pending_poll_s))
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
        batch = settings.consumer_max_records
        yield [retry_pending_forever(rt, verifier, settings.pending_poll_s, batch, wake), *background]
    finally:
        if http is not None:
            await http.aclose()


def _subscriptions(rt: Runtime[VerificationSettings]) -> list[Subscription]:
    verifier = cast(Verifier, rt.resources["verifier"])
    return [
        Subscription(topics.NOMINATION_SUBMITTED, NominationSubmitted, verifier.nominations_submitted),
        Subscription(topics.ENROLMENT_ENDED, EnrolmentEnded, handlers.enrolment_ended),
    ]


SPEC = ServiceSpec(
    name="verification",
    title="Payung verification service",
    settings_cls=VerificationSettings,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=_subscriptions,
    routers=[api.router],
    # The registry's DCI callbacks authenticate by their message signature (dci_api), not by an API key; the
    # reviewer's workspace guards itself (shared.websession.page_guard): a signed-in person or an API key.
    public_routers=[dci_api.router, workspace.router],
    body_limits=lambda _s: {"POST /ruang-kerja/{review_id}/keputusan": 16 * 1024},
    setup=_setup,
    # Reads take the default readers (verifier, programme admin, auditor); deciding a review is the verifiers' job.
    route_roles={"POST /v1/reviews/{review_id}/decision": frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN})},
)


def create(settings: VerificationSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings)
    install(app, web)  # sign-in for the reviewer's workspace (shared/websession.py)
    return app
