"""A consumed record as a ``Consumer`` receives it: a genuine ``identity.verified`` event, signed by its owner."""

from __future__ import annotations

import uuid
from datetime import date

from aiokafka import ConsumerRecord

from shared.contracts import Envelope, IdentityVerified, Nominator, new_envelope
from tests import signed


def verified() -> Envelope[IdentityVerified]:
    """A verification of a new nomination (a fresh id each call), as the verification service publishes it."""
    nomination_id = uuid.uuid4()
    payload = IdentityVerified(
        nomination_id=nomination_id,
        nik="6408014501900001",
        full_name="Siti Rahmawati",
        birth_date=date(1990, 1, 5),
        sex="F",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        occupation="nelayan",
        nominator=Nominator(type="rt", name="Ketua RT 03", region_code="64.08.01.2001"),
        programme_regency="64.08",
        name_score=100,
    )
    return new_envelope(payload, producer="verification", person_key="k" * 32, correlation_id=nomination_id)


def record(topic: str, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    """``value`` at ``offset`` of partition 0 of ``topic``, with its owner's signature headers."""
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k" * 32, value, None, 32, len(value), signed.headers(topic, value))
