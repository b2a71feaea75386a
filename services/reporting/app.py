"""Wiring of the reporting service: settings, the Kafka health reader, one subscription per topic, HTTP routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path

from fastapi import FastAPI

from services.reporting import api, dashboard, handlers
from services.reporting.kafka_health import KafkaHealth
from services.reporting.settings import ReportingSettings
from services.reporting.topology import TOPOLOGY
from shared import topology, websession
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    NotificationFailed,
    NotificationSent,
)
from shared.service import Runtime, ServiceSpec, Subscription, create_app
from shared.websession import WebSignInSettings

# Everything that moves a nomination; registry.person_updated is left out: enrolment.ended reports its effect.
REPORTED_EVENTS = (
    NominationSubmitted,
    IdentityReviewRequested,
    IdentityVerified,
    IdentityRejected,
    EnrolmentConfirmed,
    EnrolmentWaitlisted,
    EnrolmentEnded,
    EnrolmentRefused,
    NotificationSent,
    NotificationFailed,
)


@contextlib.asynccontextmanager
async def _setup(rt: Runtime[ReportingSettings]) -> AsyncIterator[Sequence[Awaitable[None]]]:
    settings = rt.settings
    assert isinstance(settings, ReportingSettings)
    health = KafkaHealth(
        settings.kafka_bootstrap,
        settings.topic_prefix,
        topology.consumers(),
        settings.health_cache_s,
        settings.kafka_client_options(),
    )
    await health.start()
    rt.resources["kafka_health"] = health
    try:
        yield ()
    finally:
        await health.close()


def _subscriptions(_: Runtime[ReportingSettings]) -> list[Subscription]:
    return [
        Subscription(event.topic, event, handlers.apply_events, group=TOPOLOGY.subscriptions[0].group)
        for event in REPORTED_EVENTS
    ]


SPEC = ServiceSpec(
    name="reporting",
    title="Payung reporting",
    settings_cls=ReportingSettings,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=_subscriptions,
    routers=(api.router,),
    # the dashboard pages guard themselves (shared.websession.page_guard): a signed-in person or an API key
    public_routers=(dashboard.router,),
    setup=_setup,
)


def create(settings: ReportingSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings)
    websession.install(app, web)
    return app
