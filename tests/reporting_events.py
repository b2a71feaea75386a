"""Event builders for the reporting tests: the envelopes the reporting service folds into its read model.

Payload fields the read model does not use are fixed; the ones it counts (nomination, desa, occupation, funding
source, reasons, time) are arguments.
"""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from services.reporting.adapters.kafka_health import KafkaHealth
from services.reporting.bootstrap import Deps
from services.reporting.domain import geomap
from services.reporting.settings import ReportingSettings
from shared import topology
from shared.auth import hash_api_key, new_api_key
from shared.contracts import (
    Address,
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    Envelope,
    IdentityRejected,
    IdentityReviewRequested,
    IdentityVerified,
    NominationSubmitted,
    Nominator,
    NotificationFailed,
    NotificationSent,
    Reason,
    new_envelope,
)
from shared.regions import default_regions

DISNAKER = Nominator(type="disnaker", name="Petugas", region_code="64.08")
_PERSON = {"nik": "6408014501900001", "full_name": "Warga", "birth_date": date(1990, 1, 5), "sex": "F"}
_PHONE = "+6281234567890"


def auditor() -> tuple[dict[str, Any], dict[str, str]]:
    """Settings fragment and request headers for an auditor's API key (reports are read-only)."""
    key = new_api_key()
    return {"api_keys": {hash_api_key(key): {"name": "test-auditor", "role": "auditor"}}}, {"X-API-Key": key}


def envelope(payload: Any, at: datetime) -> Envelope[Any]:
    e = new_envelope(
        payload, producer=topology.owner(payload.topic), person_key="p" * 16, correlation_id=payload.nomination_id
    )
    return e.model_copy(update={"occurred_at": at})


def submitted(
    nid: uuid.UUID, desa: str, occupation: str, at: datetime, nominator: Nominator = DISNAKER
) -> Envelope[Any]:
    address = Address(kecamatan_code=desa.rsplit(".", 1)[0], desa_code=desa, rt="1", rw="1")
    payload = NominationSubmitted(
        nomination_id=nid,
        **_PERSON,
        phone=_PHONE,
        address=address,
        occupation=occupation,
        nominator=nominator,
        supporting_letter=None,
        programme_regency="64.08",
    )
    return envelope(payload, at)


def verified(
    nid: uuid.UUID, desa: str, at: datetime, occupation: str = "nelayan", nominator: Nominator = DISNAKER
) -> Envelope[Any]:
    payload = IdentityVerified(
        nomination_id=nid,
        **_PERSON,
        phone=_PHONE,
        desa_code=desa,
        occupation=occupation,
        nominator=nominator,
        programme_regency="64.08",
        name_score=97,
    )
    return envelope(payload, at)


def confirmed(nid: uuid.UUID, desa: str, source: str, at: datetime, nominator: Nominator = DISNAKER) -> Envelope[Any]:
    payload = EnrolmentConfirmed(
        nomination_id=nid,
        membership_number="12345678901",
        funding_source=source,
        funding_source_name=source,
        programme_year=2026,
        coverage_start=at.date(),
        full_name=_PERSON["full_name"],
        phone=_PHONE,
        desa_code=desa,
        nominator=nominator,
    )
    return envelope(payload, at)


def waitlisted(
    nid: uuid.UUID, desa: str, at: datetime, position: int = 3, nominator: Nominator = DISNAKER
) -> Envelope[Any]:
    payload = EnrolmentWaitlisted(
        nomination_id=nid,
        programme_year=2026,
        position=position,
        full_name=_PERSON["full_name"],
        phone=_PHONE,
        desa_code=desa,
        nominator=nominator,
    )
    return envelope(payload, at)


def rejected(
    nid: uuid.UUID, desa: str, codes: tuple[str, ...], at: datetime, nominator: Nominator = DISNAKER
) -> Envelope[Any]:
    reasons = tuple(Reason(code=c, detail="-") for c in codes)
    payload = IdentityRejected(
        nomination_id=nid, reasons=reasons, full_name=_PERSON["full_name"], nominator=nominator, desa_code=desa
    )
    return envelope(payload, at)


def review(nid: uuid.UUID, desa: str, at: datetime) -> Envelope[Any]:
    reasons = (Reason(code="POSSIBLE_DUPLICATE", detail="-"),)
    return envelope(IdentityReviewRequested(nomination_id=nid, layer="duplicates", reasons=reasons, desa_code=desa), at)


def ended(nid: uuid.UUID, desa: str, source: str, at: datetime, nominator: Nominator = DISNAKER) -> Envelope[Any]:
    """Cover ends: ``at``'s UTC date is the last day covered."""
    payload = EnrolmentEnded(
        nomination_id=nid,
        membership_number="12345678901",
        funding_source=source,
        programme_year=2026,
        reason="moved_out",
        coverage_end=at.date(),
        full_name=_PERSON["full_name"],
        phone=_PHONE,
        desa_code=desa,
        nominator=nominator,
    )
    return envelope(payload, at + timedelta(hours=1))


def refused(nid: uuid.UUID, desa: str, at: datetime, nominator: Nominator = DISNAKER) -> Envelope[Any]:
    payload = EnrolmentRefused(
        nomination_id=nid,
        programme_year=2026,
        refusal_code="PU_ACTIVE",
        refusal_reason="-",
        full_name=_PERSON["full_name"],
        desa_code=desa,
        nominator=nominator,
    )
    return envelope(payload, at)


def notified(nid: uuid.UUID, at: datetime, *, failed: bool = False) -> Envelope[Any]:
    """A notification of the beneficiary sent (or, ``failed``, given up)."""
    common: dict[str, Any] = {
        "nomination_id": nid,
        "delivery_id": uuid.uuid4(),
        "purpose": "enrolment_confirmed",
        "recipient_role": "beneficiary",
        "channel": "sms",
    }
    payload = NotificationFailed(**common, reason="undeliverable") if failed else NotificationSent(**common)
    return envelope(payload, at)


def life(rng: random.Random, nid: uuid.UUID, t0: datetime) -> list[Envelope[Any]]:
    """One nomination's events in a random life: rejected, re-verified after an objection, waitlisted, refused,
    enrolled, ended, notified (some of them), the events in the order they happened (tallies tests)."""
    desa = rng.choice(["64.08.01.2001", "64.08.01.2002", "64.08.04.1001", "64.08.04.1002", "64.08.10.2003"])
    occupation = rng.choice(["nelayan", "ojek", "sopir"])
    source = rng.choice(["APBD-KAB", "APBD-PROV"])
    at = t0 + timedelta(hours=rng.randrange(24 * 20))
    out = [submitted(nid, desa, occupation, at)]
    fate = rng.random()
    if fate < 0.3:
        out.append(rejected(nid, desa, tuple(rng.sample(["NAME_MISMATCH", "DECEASED", "WAGE_EARNER"], 2)), at))
        if rng.random() < 0.5:  # an upheld objection: verified after all, sometimes enrolled
            out.append(verified(nid, desa, at + timedelta(days=3), occupation=occupation))
            if rng.random() < 0.5:
                out.append(confirmed(nid, desa, source, at + timedelta(days=4)))
    elif fate < 0.33:  # only its notifications were read (the rest beyond the topics' retention): no desa
        return [notified(nid, at) for _ in range(rng.randrange(1, 3))]
    elif fate < 0.4:
        out.append(review(nid, desa, at + timedelta(hours=5)))
    else:
        out.append(verified(nid, desa, at + timedelta(hours=1), occupation=occupation))
        if rng.random() < 0.3:
            out.append(waitlisted(nid, desa, at + timedelta(hours=2)))
        if rng.random() < 0.1:
            out.append(refused(nid, desa, at + timedelta(hours=3)))
        elif rng.random() < 0.8:
            out.append(confirmed(nid, desa, source, at + timedelta(days=rng.randrange(4))))
            if rng.random() < 0.2:
                out.append(ended(nid, desa, source, at + timedelta(days=40)))
    out += [notified(nid, at, failed=rng.random() < 0.3) for _ in range(rng.randrange(3))]
    return out


def reporting_deps(pool: asyncpg.Pool, settings: ReportingSettings) -> Deps:
    """The reporting service's Deps outside a running service (its Kafka health reader not started, no map): enough
    to seed the read model through the consumer's own handler, ``handlers.apply_events``."""
    health = KafkaHealth(settings.kafka_bootstrap, settings.topic_prefix, topology.consumers())
    return Deps(pool, settings.topic_prefix, settings, health, default_regions(), geomap.shapes([]))
