"""Wiring of the notification service: settings, topology, bootstrap, jobs and the HTTP API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.notification import api, bootstrap
from services.notification.handlers import events, outreach, shortfall
from services.notification.settings import NotificationSettings
from services.notification.topology import TOPOLOGY
from shared.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="notification",
    settings_cls=NotificationSettings,
    migrations=Path(__file__).parent / "migrations",
    title="Payung notification service",
    topology=TOPOLOGY,
    bootstrap=bootstrap.bootstrap,
    event_handlers={"events": events.plan_messages, "forecasts": shortfall.plan_shortfall, "outreach": outreach.handle},
    jobs=bootstrap.jobs,
    routers=[api.router, api.webhooks],
    # Provider webhooks authenticate by their HMAC signature (api.receive), not by a Payung principal.
    public_routers=[api.provider_webhooks],
    # A provider batches many statuses in one callback: more room than the default 64 KiB.
    body_limits=lambda s: {"POST /v1/receipts/{channel}": s.webhook_max_body_bytes},
)


def create() -> FastAPI:
    return create_app(SPEC)
