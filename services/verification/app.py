"""Wiring of the verification service: its topology, bootstrap, handlers, jobs and HTTP routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.verification import bootstrap
from services.verification.api import dci, pages, rest
from services.verification.handlers import decide
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
    },
    # The registry is asked before the batch's transaction opens; inside it, only its answers are read.
    prepare={"nomination.submitted": decide.prepare_submitted},
    jobs=bootstrap.jobs,
    routers=[rest.router],
    # The registry's DCI callbacks authenticate by their message signature (api/dci.py), not by an API key; the
    # reviewer's workspace guards itself (shared.websession.page_guard): a signed-in person or an API key.
    public_routers=[dci.router, pages.router],
    body_limits=lambda _s: {"POST /ruang-kerja/{review_id}/keputusan": 16 * 1024},
    # Reads take the default readers (verifier, programme admin, auditor); deciding a review is the verifiers' job.
    route_roles={"POST /v1/reviews/{review_id}/decision": frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN})},
)


def create(settings: VerificationSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings)
    install(app, web)  # sign-in for the reviewer's workspace (shared/websession.py)
    return app
