"""Wiring of the nomination service: settings, topology and its handlers, jobs, HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.nomination import bootstrap
from services.nomination.api import cards, outreach, portal, portal_outreach, rest, selfcheck, upload
from services.nomination.domain.selfcheck import EVIDENCE_MAX_BYTES
from services.nomination.handlers import inbound, progress
from services.nomination.settings import NominationSettings
from services.nomination.topology import TOPOLOGY
from shared.auth import EVERYONE, Role
from shared.service import ServiceSpec, create_app
from shared.websession import WebSignInSettings, install

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
    "GET /v1/cards/desa/{desa_code}": cards.CARD_ROLES,
    "POST /v1/nominations/{nomination_id}/objections": SUBMITTERS,
    "GET /v1/nominations/{nomination_id}/objections": EVERYONE,
    "GET /v1/leads": SUBMITTERS,
    "POST /v1/leads/{lead_id}/mark": SUBMITTERS,
}

SPEC = ServiceSpec(
    name="nomination",
    title="Payung nomination service",
    settings_cls=NominationSettings,
    migrations=Path(__file__).parent / "migrations",
    topology=TOPOLOGY,
    bootstrap=bootstrap.bootstrap,
    event_handlers={"progress": progress.record_progress, "inbound": inbound.answer_messages},
    jobs=bootstrap.jobs,
    routers=[rest.router, cards.router, outreach.router, outreach.leads_router],
    public_routers=[portal.router, upload.router, cards.portal_router, portal_outreach.router, selfcheck.router],
    route_roles=ROUTE_ROLES,
    body_limits=lambda s: {
        "POST /v1/nominations": s.max_body_bytes,
        "POST /v1/nominations:batch": s.max_batch_body_bytes,
        "PUT /v1/nominations/{nomination_id}/letter": s.letter_max_bytes,
        "PUT /portal/api/nominations/{nomination_id}/letter": s.letter_max_bytes,
        # the sheet plus the multipart framing and the form's few fields
        "POST /portal/unggah": s.upload_max_bytes + 16 * 1024,
        # the self-check's forms: a few short fields; an objection's evidence (at most 300 KB) plus its framing
        "POST /cek": 4 * 1024,
        "POST /daftar": 4 * 1024,
        "POST /cek/sanggah": EVIDENCE_MAX_BYTES + 16 * 1024,
        "POST /v1/nominations/{nomination_id}/objections": outreach.OBJECTION_MAX_BODY,
        "POST /portal/usulan/{nomination_id}/sanggahan": portal_outreach.FORM_MAX_BODY,
    },
)


def create(settings: NominationSettings | None = None, web: WebSignInSettings | None = None) -> FastAPI:
    app = create_app(SPEC, settings or NominationSettings())
    install(app, web)  # sign-in for the portal's pages (shared/websession.py)
    return app
