"""Wiring of the notification service: settings, subscriptions, channels, the dispatcher and the HTTP API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI

from services.notification import api, domain, handlers
from services.notification.channels import open_channels
from services.notification.digests import DigestConfig, DigestJob
from services.notification.dispatcher import Dispatcher, DispatcherConfig
from services.notification.schedule import SendWindow
from services.notification.settings import NotificationSettings
from services.notification.topology import TOPOLOGY
from shared import topics
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
)
from shared.regions import default_regions
from shared.service import Runtime, ServiceSpec, Subscription, create_app


def channel_policy(settings: NotificationSettings) -> domain.ChannelPolicy:
    return domain.ChannelPolicy(
        beneficiary=settings.beneficiary_order,
        nominator=settings.nominator_order,
        smtp_configured=settings.smtp_configured,
    )


def dispatcher_config(settings: NotificationSettings) -> DispatcherConfig:
    return DispatcherConfig(
        topic_prefix=settings.topic_prefix,
        batch_size=settings.dispatch_batch_size,
        concurrency=settings.dispatch_concurrency,
        poll_interval_s=settings.dispatch_poll_interval_s,
        lease_s=settings.sending_lease_s,
        shutdown_grace_s=settings.shutdown_grace_s,
        retry=domain.RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            initial_s=settings.retry_initial_s,
            max_s=settings.retry_max_s,
            jitter_s=settings.retry_jitter_s,
        ),
        window=SendWindow(settings.send_window_start, settings.send_window_end, ZoneInfo(settings.send_window_tz)),
        quiet_channels=settings.quiet_channels,
        rates=settings.rates,
        recipient_daily_limit=settings.recipient_daily_limit,
        digests=settings.digest_enabled,
    )


def digest_config(settings: NotificationSettings) -> DigestConfig:
    return DigestConfig(
        at=settings.digest_time,
        zone=ZoneInfo(settings.send_window_tz),
        poll_interval_s=settings.digest_poll_interval_s,
        topic_prefix=settings.topic_prefix,
        whatsapp_prefix=settings.whatsapp_template_prefix,
    )


def _subscriptions(rt: Runtime[NotificationSettings]) -> list[Subscription]:
    settings = rt.settings
    handle = handlers.event_handler(
        channel_policy(settings),
        default_regions(),
        settings.topic_prefix,
        settings.whatsapp_template_prefix,
        digests=settings.digest_enabled,
        hold_for_digest=settings.nominator_messages == "digest",
    )
    return [
        Subscription(topics.ENROLMENT_CONFIRMED, EnrolmentConfirmed, handle, group=TOPOLOGY.subscriptions[0].group),
        Subscription(topics.ENROLMENT_WAITLISTED, EnrolmentWaitlisted, handle, group=TOPOLOGY.subscriptions[0].group),
        Subscription(topics.IDENTITY_REJECTED, IdentityRejected, handle, group=TOPOLOGY.subscriptions[0].group),
        Subscription(topics.ENROLMENT_ENDED, EnrolmentEnded, handle, group=TOPOLOGY.subscriptions[0].group),
        Subscription(topics.ENROLMENT_REFUSED, EnrolmentRefused, handle, group=TOPOLOGY.subscriptions[0].group),
    ]


@contextlib.asynccontextmanager
async def _setup(rt: Runtime[NotificationSettings]) -> AsyncIterator[Sequence[Awaitable[None]]]:
    settings = rt.settings
    async with open_channels(settings) as channels:
        dispatcher = Dispatcher(rt.pool, settings.database_url, channels, dispatcher_config(settings))
        rt.resources["dispatcher"] = dispatcher
        background = [dispatcher.run()]
        if settings.digest_enabled:
            job = DigestJob(rt.pool, default_regions(), digest_config(settings))
            rt.resources["digests"] = job
            background.append(job.run())
        yield background


SPEC = ServiceSpec(
    name="notification",
    settings_cls=NotificationSettings,
    migrations=Path(__file__).parent / "migrations",
    title="Payung notification service",
    subscriptions=_subscriptions,
    routers=[api.router, api.webhooks],
    # Provider webhooks authenticate by their HMAC signature (api.receive), not by a Payung principal.
    public_routers=[api.provider_webhooks],
    setup=_setup,
    # A provider batches many statuses in one callback: more room than the default 64 KiB.
    body_limits=lambda s: {"POST /v1/receipts/{channel}": s.webhook_max_body_bytes},
)


def create() -> FastAPI:
    return create_app(SPEC)
