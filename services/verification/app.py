"""Wiring of the verification service: its topology, bootstrap, handlers, jobs and HTTP routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.verification import bootstrap
from services.verification.api import dci, objection_pages, objections, pages, rest
from services.verification.handlers import decide
from services.verification.handlers import objections as objection_handlers
from services.verification.settings import VerificationSettings
from services.verification.topology import TOPOLOGY
from shared.auth import Role
from shared.service import ServiceSpec, create_app
from shared.websession import WebSignInSettings, install

SPEC = ServiceSpec(
    name="verification",
    title="Payung verification service",
    settings_cls=VerificationSettings,
    migrations=Path(__file__).parent / "migrations",
    topology=TOPOLOGY,
    bootstrap=bootstrap.bootstrap,
    event_handlers={
        "nomination.submitted": decide.nominations_submitted,
        "enrolment.ended": decide.enrolment_ended,
        "objection.filed": objection_handlers.objections_filed,
    },
    # The registry is asked before the batch's transaction opens; inside it, only its answers are read.
    prepare={"nomination.submitted": decide.prepare_submitted},
    jobs=bootstrap.jobs,
    routers=[rest.router, objections.router],
    # The registry's DCI callbacks authenticate by their message signature (api/dci.py), not by an API key; the
    # reviewer's workspace guards itself (shared.websession.page_guard): a signed-in person or an API key.
    # The objections' workspace router comes first: its /ruang-kerja/sanggahan must not be read as a review id.
    public_routers=[dci.router, objection_pages.router, pages.router],
    body_limits=lambda _s: {
        "POST /ruang-kerja/{review_id}/keputusan": 16 * 1024,
        "POST /ruang-kerja/sanggahan/{objection_id}/keputusan": 16 * 1024,
        "POST /ruang-kerja/sanggahan/{objection_id}/ambil": 4 * 1024,
    },
    # Reads take the default readers (verifier, programme admin, auditor); deciding a review is the verifiers' job.
    route_roles={
        "POST /v1/reviews/{review_id}/decision": frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN}),
        "POST /v1/objections/{objection_id}/decision": frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN}),
        "POST /v1/objections/{objection_id}/take-up": frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN}),
    },
)


def create(settings: VerificationSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings)
    install(app, web)  # sign-in for the reviewer's workspace (shared/websession.py)
    return app
