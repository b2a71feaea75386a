import uuid
from datetime import date

import orjson
import pytest

from shared import contracts
from shared.contracts import EnrolmentWaitlisted, IdentityRejected, Nominator, Reason, decode, encode, new_envelope
from shared.errors import PoisonMessage

NOMINATOR = Nominator(type="rt", name="Pak RT", region_code="64.08.01.2001")


def waitlisted(position: int = 3) -> EnrolmentWaitlisted:
    return EnrolmentWaitlisted(
        nomination_id=uuid.uuid4(),
        programme_year=2026,
        position=position,
        full_name="Siti",
        phone="+6281234567890",
        desa_code="64.08.01.2001",
        nominator=NOMINATOR,
    )


def raw_of(payload: contracts.Payload) -> dict:
    envelope = new_envelope(payload, producer="test", person_key="k" * 32, correlation_id=uuid.uuid4())
    return orjson.loads(encode(envelope))


def test_round_trip_keeps_every_field():
    envelope = new_envelope(waitlisted(), producer="test", person_key="a" * 32, correlation_id=uuid.uuid4())
    decoded = decode(encode(envelope), EnrolmentWaitlisted)
    assert decoded == envelope
    assert decoded.payload.position == 3
    assert decoded.occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    ("mutate", "error_type"),
    [
        (lambda d: b"", "empty"),
        (lambda d: b"{not json", "invalid_json"),
        (lambda d: b"[1, 2]", "invalid_envelope"),
        (lambda d: {**d, "event_type": "Nope"}, "unknown_event_type"),
        (lambda d: {**d, "event_type": "IdentityRejected"}, "wrong_event_type"),
        (lambda d: {**d, "schema_version": 99}, "unsupported_version"),
        (lambda d: {**d, "schema_version": "1"}, "invalid_envelope"),
        (lambda d: {**d, "schema_version": True}, "invalid_envelope"),
        (lambda d: {**d, "occurred_at": "2026-11-21T10:00:00"}, "schema_violation"),  # naive time
        (lambda d: {**d, "surprise": 1}, "schema_violation"),
        (lambda d: {**d, "payload": {**d["payload"], "position": 0}}, "schema_violation"),
        (lambda d: {k: v for k, v in d.items() if k != "event_id"}, "schema_violation"),
    ],
)
def test_bad_messages_are_poison_with_a_reason(mutate, error_type):
    value = mutate(raw_of(waitlisted()))
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    with pytest.raises(PoisonMessage) as info:
        decode(raw, EnrolmentWaitlisted)
    assert info.value.error_type == error_type
    assert info.value.reason


def test_validation_reasons_do_not_echo_values():
    data = raw_of(waitlisted())
    data["payload"]["phone"] = 6281234567890  # wrong type, and personal data
    with pytest.raises(PoisonMessage) as info:
        decode(orjson.dumps(data), EnrolmentWaitlisted)
    assert "payload.phone" in info.value.reason
    assert "6281234567890" not in info.value.reason


def test_old_versions_are_upcast(monkeypatch):
    rejected = IdentityRejected(
        nomination_id=uuid.uuid4(),
        reasons=(Reason(code="DECEASED", detail="registry says deceased"),),
        full_name="Siti Aminah",
        nominator=NOMINATOR,
        desa_code="64.08.01.2001",
    )
    data = raw_of(rejected)
    monkeypatch.setattr(IdentityRejected, "schema_version", 3)
    # v2 had no desa_code in this imagined history; v3 requires it
    del data["payload"]["desa_code"]
    monkeypatch.setitem(contracts.UPCASTERS, ("IdentityRejected", 2), lambda p: {**p, "desa_code": "64.08.01.2001"})
    decoded = decode(orjson.dumps(data), IdentityRejected)
    assert decoded.schema_version == 3
    assert decoded.payload.desa_code == "64.08.01.2001"


def test_events_from_before_objections_are_upcast_without_one():
    rejected = IdentityRejected(
        nomination_id=uuid.uuid4(),
        reasons=(Reason(code="DECEASED", detail="registry says deceased"),),
        full_name="Siti Aminah",
        nominator=NOMINATOR,
        desa_code="64.08.01.2001",
    )
    data = raw_of(rejected)
    del data["payload"]["objection_id"]
    data["schema_version"] = 1
    decoded = decode(orjson.dumps(data), IdentityRejected)
    assert (decoded.schema_version, decoded.payload.objection_id) == (2, None)


def test_envelopes_are_frozen():
    envelope = new_envelope(waitlisted(), producer="t", person_key="a" * 32, correlation_id=uuid.uuid4())
    with pytest.raises(Exception):
        envelope.producer = "other"  # type: ignore[misc]


def test_every_payload_names_a_declared_topic():
    from shared.topics import EVENT_TOPICS

    assert {p.topic for p in contracts.PAYLOADS} == set(EVENT_TOPICS)
    assert len({p.event_type for p in contracts.PAYLOADS}) == len(contracts.PAYLOADS)


def test_dates_serialise_as_iso():
    data = raw_of(waitlisted())
    assert data["payload"]["nominator"]["region_code"] == "64.08.01.2001"
    assert date.fromisoformat(data["occurred_at"][:10])
