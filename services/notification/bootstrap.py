"""The notification service's dependencies, built once: the channels, the rules from the settings, the jobs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import Request

from services.notification.adapters.channel import Channel
from services.notification.adapters.registry import open_channels
from services.notification.adapters.throttle import Throttle
from services.notification.adapters.wakeup import WakeListener
from services.notification.domain.digests import DigestPolicy
from services.notification.domain.dispatch import DispatchPolicy, RetryPolicy
from services.notification.domain.routes import ChannelPolicy
from services.notification.domain.schedule import SendWindow
from services.notification.handlers import claims, digests, dispatch
from services.notification.repository.deliveries import WAKE_CHANNEL
from services.notification.settings import NotificationSettings
from shared import service
from shared.jobs import Job
from shared.regions import RegionIndex, default_regions


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    topic_prefix: str
    settings: NotificationSettings
    channels: Mapping[str, Channel]
    regions: RegionIndex
    policy: ChannelPolicy
    dispatch: DispatchPolicy
    digest: DigestPolicy
    throttle: Throttle
    listener: WakeListener
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set by the listener: deliveries became due
    whatsapp_prefix: str = "payung_"
    now: Callable[[], datetime] = _now
    random_fraction: Callable[[], float] = random.random


def make_deps(pool: asyncpg.Pool, settings: NotificationSettings, channels: Mapping[str, Channel]) -> Deps:
    """The service's Deps from its settings (a test replaces what it needs: ``dataclasses.replace``)."""
    zone = ZoneInfo(settings.send_window_tz)
    wake = asyncio.Event()
    return Deps(
        pool=pool,
        topic_prefix=settings.topic_prefix,
        settings=settings,
        channels=channels,
        regions=default_regions(),
        policy=ChannelPolicy(
            beneficiary=settings.beneficiary_order,
            nominator=settings.nominator_order,
            smtp_configured=settings.smtp_configured,
            membership_cards=settings.membership_cards,
        ),
        dispatch=DispatchPolicy(
            batch_size=settings.dispatch_batch_size,
            lease_s=settings.sending_lease_s,
            shutdown_grace_s=settings.shutdown_grace_s,
            retry=RetryPolicy(
                max_attempts=settings.delivery_max_attempts,
                initial_s=settings.retry_initial_s,
                max_s=settings.retry_max_s,
                jitter_s=settings.retry_jitter_s,
            ),
            window=SendWindow(settings.send_window_start, settings.send_window_end, zone),
            quiet_channels=settings.quiet_channels,
            recipient_daily_limit=settings.recipient_daily_limit,
            digests=settings.digest_enabled,
        ),
        digest=DigestPolicy(
            enabled=settings.digest_enabled,
            hold=settings.nominator_messages == "digest",
            at=settings.digest_time,
            zone=zone,
        ),
        throttle=Throttle(settings.dispatch_concurrency, settings.rates),
        listener=WakeListener(settings.database_url, WAKE_CHANNEL, wake),
        wake=wake,
        whatsapp_prefix=settings.whatsapp_template_prefix,
    )


@contextlib.asynccontextmanager
async def bootstrap(rt: service.Runtime[NotificationSettings]) -> AsyncIterator[Deps]:
    """The channels are opened here and closed on exit, with the dispatch job's LISTEN connection."""
    async with open_channels(rt.settings) as channels:
        deps = make_deps(rt.pool, rt.settings, channels)
        try:
            yield deps
        finally:
            await deps.listener.close()


def jobs(deps: Deps) -> list[Job]:
    settings = deps.settings
    out = [Job("dispatcher", functools.partial(dispatch.step, deps), settings.dispatch_poll_interval_s, wake=deps.wake)]
    if deps.digest.enabled:
        out.append(Job("digests", functools.partial(digests.step, deps), settings.digest_poll_interval_s))
    if settings.claim_reminders_enabled:  # issue 15: the yearly how-to-claim message
        out.append(
            Job("claim-reminders", functools.partial(claims.step, deps), settings.claim_reminder_poll_interval_s)
        )
    return out


async def deps(request: Request) -> Deps:
    """FastAPI dependency: the running service's Deps."""
    return service.deps_of(request, Deps)
