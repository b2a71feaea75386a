"""The verification service's dependencies, built once: the registry adapter, the region list, the policy.

``bootstrap`` (the service's lifespan) and ``open_deps`` (the command line) build the same frozen ``Deps``;
``jobs`` gives the background loops: the retry of pending look-ups (woken by each DCI on-search callback) and,
with DCI, the death subscription until the registry acknowledges it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import asyncpg
from fastapi import Request

from services.verification import domain
from services.verification.adapters.dci import DciConfig, DciRegistry
from services.verification.adapters.http import HttpRegistry, HttpRegistryConfig
from services.verification.adapters.registry import CivilRegistry, SnapshotRegistry
from services.verification.handlers import dci as dci_handlers
from services.verification.handlers import decide
from services.verification.settings import VerificationSettings
from shared import dci, service
from shared.jobs import Job
from shared.regions import RegionIndex, load_regions
from shared.service import Runtime


@dataclass(frozen=True)
class Deps:
    """What every verification handler needs besides its connection."""

    pool: asyncpg.Pool
    settings: VerificationSettings
    registry: CivilRegistry
    regions: RegionIndex
    policy: domain.Policy
    dci: DciRegistry | None = None  # the DCI adapter, when it is the registry (its callbacks and subscription)

    @property
    def topic_prefix(self) -> str:
        return self.settings.topic_prefix


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


def dci_registry(
    settings: VerificationSettings, pool: asyncpg.Pool, mode: Literal["async", "sync"] | None = None
) -> DciRegistry:
    config = DciConfig(
        url=settings.dci_url,
        sender_id=settings.dci_sender_id,
        receiver_id=settings.dci_receiver_id,
        callback_base=settings.dci_callback_base.rstrip("/"),
        mode=mode or settings.dci_mode,
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
    return DciRegistry(config, pool, signer, verifier)


@contextlib.asynccontextmanager
async def open_deps(
    settings: VerificationSettings, pool: asyncpg.Pool, *, dci_mode: Literal["async", "sync"] | None = None
) -> AsyncIterator[Deps]:
    """The dependencies over ``pool``, the registry adapter closed on exit. ``dci_mode`` overrides the setting
    (the yearly re-check asks DCI synchronously: a sweep cannot wait for callbacks)."""
    closing: HttpRegistry | DciRegistry | None = None
    via_dci: DciRegistry | None = None
    registry: CivilRegistry
    if settings.registry_adapter == "http":
        registry = closing = HttpRegistry(http_config(settings), pool)
    elif settings.registry_adapter == "dci":
        registry = closing = via_dci = dci_registry(settings, pool, dci_mode)
    else:
        registry = SnapshotRegistry(pool)
    regions = load_regions(settings.region_data_file, settings.region_data_version)
    try:
        yield Deps(pool, settings, registry, regions, policy(settings), via_dci)
    finally:
        if closing is not None:
            await closing.aclose()


@contextlib.asynccontextmanager
async def bootstrap(rt: Runtime[VerificationSettings]) -> AsyncIterator[Deps]:
    async with open_deps(rt.settings, rt.pool) as built:
        yield built


def jobs(deps: Deps) -> list[Job]:
    settings = deps.settings
    retry = Job(
        "retry-pending-lookups",
        lambda: decide.retry_round(deps),
        settings.pending_poll_s,
        wake=deps.dci.answered if deps.dci is not None else None,  # an on-search callback answered some
    )
    if deps.dci is None or not settings.dci_subscribe_deaths:
        return [retry]
    subscribe = Job("dci-death-subscription", lambda: dci_handlers.subscribe_round(deps), settings.pending_poll_s)
    return [retry, subscribe]


async def deps(request: Request) -> Deps:
    """FastAPI dependency: the running service's ``Deps``."""
    return service.deps_of(request, Deps)
