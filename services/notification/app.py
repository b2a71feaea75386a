"""Wiring of the notification service: settings, subscriptions, channels, the dispatcher and the HTTP API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.notification import api, domain, handlers
from services.notification.channels import open_channels
from services.notification.dispatcher import Dispatcher, DispatcherConfig
from services.notification.settings import NotificationSettings
from shared import topics
from shared.contracts import EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected
from shared.regions import default_regions
from shared.service import Runtime, ServiceSpec, Subscription, create_app


def channel_policy(settings: NotificationSettings) -> domain.ChannelPolicy:
    return domain.ChannelPolicy(
        beneficiary=settings.resolved_beneficiary_channel,
        nominator=settings.nominator_channel,
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
    )


def _subscriptions(rt: Runtime) -> list[Subscription]:
    settings = cast(NotificationSettings, rt.settings)
    handle = handlers.event_handler(channel_policy(settings), default_regions(), settings.topic_prefix)
    return [
        Subscription(topics.ENROLMENT_CONFIRMED, EnrolmentConfirmed, handle),
        Subscription(topics.ENROLMENT_WAITLISTED, EnrolmentWaitlisted, handle),
        Subscription(topics.IDENTITY_REJECTED, IdentityRejected, handle),
    ]


@contextlib.asynccontextmanager
async def _setup(rt: Runtime) -> AsyncIterator[Sequence[Awaitable[None]]]:
    settings = cast(NotificationSettings, rt.settings)
    async with open_channels(settings) as channels:
        dispatcher = Dispatcher(rt.pool, settings.database_url, channels, dispatcher_config(settings))
        rt.resources["dispatcher"] = dispatcher
        yield [dispatcher.run()]


SPEC = ServiceSpec(
    name="notification",
    settings_cls=NotificationSettings,
    migrations=Path(__file__).parent / "migrations",
    title="Payung notification service",
    subscriptions=_subscriptions,
    routers=[api.router],
    setup=_setup,
)


def create() -> FastAPI:
    return create_app(SPEC)
