"""Wiring of the nomination service: settings, subscriptions, HTTP app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path

from fastapi import FastAPI

from services.nomination import api, handlers, portal, portal_upload, uploads
from services.nomination.settings import NominationSettings
from services.nomination.topology import TOPOLOGY
from shared.auth import EVERYONE, Role
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NotificationFailed,
    NotificationSent,
)
from shared.service import Runtime, ServiceSpec, Subscription, create_app
from shared.websession import WebSignInSettings, install

PROGRESS_EVENTS = (
    IdentityReviewRequested,
    IdentityVerified,
    IdentityRejected,
    EnrolmentConfirmed,
    EnrolmentWaitlisted,
    NotificationSent,
    NotificationFailed,
    EnrolmentEnded,
    EnrolmentRefused,
)


def _subscriptions(_: Runtime[NominationSettings]) -> list[Subscription]:
    # one consumer over every progress topic: one transaction per fetched batch, no two transactions of this
    # service locking the same nomination at once (docs/PERFORMANCE.md)
    return [
        Subscription(event.topic, event, handlers.record_progress, group=TOPOLOGY.subscriptions[0].group)
        for event in PROGRESS_EVENTS
    ]


# Who may do what (the handlers apply a caller's area on top: a nominator submits and sees its own area only).
# Verifiers and auditors do not submit: verification is a separate layer, and auditors only read.
SUBMITTERS = frozenset({Role.NOMINATOR, Role.PROGRAMME_ADMIN})
ROUTE_ROLES = {
    "POST /v1/nominations": SUBMITTERS,
    "POST /v1/nominations:batch": SUBMITTERS,
    "GET /v1/nominations/summary": EVERYONE,
    "GET /v1/nominations/{nomination_id}": EVERYONE,
    "PUT /v1/nominations/{nomination_id}/letter": SUBMITTERS,
    "GET /v1/nominations/{nomination_id}/letter": EVERYONE,
}


@contextlib.asynccontextmanager
async def _setup(rt: Runtime[NominationSettings]) -> AsyncIterator[Sequence[Awaitable[None]]]:
    # the portal's spreadsheet uploads: pending rows (also those of a job a restart interrupted) are sent here
    worker = uploads.UploadWorker(rt)
    rt.resources["uploads"] = worker
    yield [worker.run()]


SPEC = ServiceSpec(
    name="nomination",
    title="Payung nomination service",
    settings_cls=NominationSettings,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=_subscriptions,
    routers=[api.router],
    public_routers=[portal.router, portal_upload.router],
    setup=_setup,
    route_roles=ROUTE_ROLES,
    body_limits=lambda s: {
        "POST /v1/nominations": s.max_body_bytes,
        "POST /v1/nominations:batch": s.max_batch_body_bytes,
        "PUT /v1/nominations/{nomination_id}/letter": s.letter_max_bytes,
        "PUT /portal/api/nominations/{nomination_id}/letter": s.letter_max_bytes,
        # the sheet plus the multipart framing and the form's few fields
        "POST /portal/unggah": s.upload_max_bytes + 16 * 1024,
    },
)


def create(settings: NominationSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings or NominationSettings())
    install(app, web)  # sign-in for the portal's pages (shared/websession.py)
    return app
