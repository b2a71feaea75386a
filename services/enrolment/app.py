"""Wiring of the enrolment service: settings, topology and its handlers, the bootstrap and its jobs, HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.enrolment import bootstrap
from services.enrolment.api import dci, rest
from services.enrolment.handlers import ending, restoring, seating
from services.enrolment.settings import EnrolmentSettings
from services.enrolment.topology import TOPOLOGY
from shared.auth import Role
from shared.service import ServiceSpec, create_app

SPEC = ServiceSpec(
    name="enrolment",
    settings_cls=EnrolmentSettings,
    migrations=Path(__file__).parent / "migrations",
    title="Payung enrolment",
    topology=TOPOLOGY,
    bootstrap=bootstrap.bootstrap,
    event_handlers={
        "identity.verified": seating.seat_verified,
        "registry.person_updated": ending.registry_person_updated,
        "objection.reviewed": restoring.objections_reviewed,
    },
    jobs=bootstrap.jobs,
    routers=(rest.router, dci.router),
    # Other agencies' systems reach only the DCI enrolment check (yes/no), nothing else of the API.
    route_roles={"POST /dci/registry/sync/enrolled": frozenset({Role.PARTNER_AGENCY, Role.PROGRAMME_ADMIN})},
)


def create() -> FastAPI:
    return create_app(SPEC)
