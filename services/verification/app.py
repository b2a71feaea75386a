"""Wiring of the verification service: settings, the registry adapter, the subscription, the HTTP app."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.verification import api, domain
from services.verification.handlers import Verifier
from services.verification.registry import SnapshotRegistry
from services.verification.settings import VerificationSettings
from shared import topics
from shared.contracts import NominationSubmitted
from shared.regions import load_regions
from shared.service import Runtime, ServiceSpec, Subscription, create_app


def policy(settings: VerificationSettings) -> domain.Policy:
    return domain.Policy(
        name_match_threshold=settings.name_match_threshold, min_age=settings.min_age, max_age=settings.max_age
    )


def _subscriptions(rt: Runtime) -> list[Subscription]:
    settings = cast(VerificationSettings, rt.settings)
    verifier = Verifier(
        registry=SnapshotRegistry(rt.pool),
        regions=load_regions(settings.region_data_file, settings.region_data_version),
        policy=policy(settings),
        topic_prefix=settings.topic_prefix,
    )
    return [Subscription(topics.NOMINATION_SUBMITTED, NominationSubmitted, verifier.nominations_submitted)]


SPEC = ServiceSpec(
    name="verification",
    title="Payung verification service",
    settings_cls=VerificationSettings,
    migrations=Path(__file__).parent / "migrations",
    subscriptions=_subscriptions,
    routers=[api.router],
)


def create(settings: VerificationSettings | None = None) -> FastAPI:
    return create_app(SPEC, settings)
