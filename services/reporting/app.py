"""Wiring of the reporting service: its topology, bootstrap (Deps), the one consumer group's handler, HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.reporting import bootstrap, handlers
from services.reporting.api import pages, rest
from services.reporting.settings import ReportingSettings
from services.reporting.topology import TOPOLOGY
from shared import websession
from shared.service import ServiceSpec, create_app
from shared.websession import WebSignInSettings

SPEC = ServiceSpec(
    name="reporting",
    title="Payung reporting",
    settings_cls=ReportingSettings,
    migrations=Path(__file__).parent / "migrations",
    topology=TOPOLOGY,
    bootstrap=bootstrap.bootstrap,
    event_handlers={"events": handlers.apply_events},
    jobs=bootstrap.jobs,
    routers=(rest.router,),
    # the dashboard pages guard themselves (shared.websession.page_guard): a signed-in person or an API key
    public_routers=(pages.router,),
)


def create(settings: ReportingSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings)
    websession.install(app, web)
    return app
