"""Wiring of the nomination service: settings, subscriptions, HTTP app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from services.nomination import api, handlers
from services.nomination.settings import NominationSettings
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NotificationFailed,
    NotificationSent,
)
from shared.http import BodySizeLimit
from shared.service import Runtime, ServiceSpec, Subscription, create_app

PROGRESS_EVENTS = (
    IdentityReviewRequested,
    IdentityVerified,
    IdentityRejected,
    EnrolmentConfirmed,
    EnrolmentWaitlisted,
    NotificationSent,
    NotificationFailed,
    EnrolmentEnded,
)


def _subscriptions(_: Runtime) -> list[Subscription]:
    return [Subscription(event.topic, event, handlers.record_progress) for event in PROGRESS_EVENTS]


SPEC = ServiceSpec(
    name="nomination",
    title="Payung nomination service",
    settings_cls=NominationSettings,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=_subscriptions,
    routers=[api.router],
)


def create(settings: NominationSettings | None = None) -> FastAPI:
    settings = settings or NominationSettings()  # type: ignore[call-arg]
    app = create_app(SPEC, settings)
    app.add_exception_handler(RequestValidationError, api.validation_error_handler)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app
