"""Hostile Kafka records for the hostile-input suite (bench/hostile.py): poison and forgeries, generated.

Everything is derived from the declarations, so a new topic, consumer or contract field is attacked without an edit
here: the input topics and their consumer groups come from ``shared.topology`` (the services' declarations),
each topic's owner from ``PRODUCERS``, the fields to violate from the contract models, the size limit from
``shared.topics`` (``TopicSpec.max_message_bytes`` when declared, else the broker's default).

Poison: bytes no consumer can take (NUL, control characters, invalid UTF-8 in value, key and headers; a missing key
or value; values near the topic's size limit; one schema violation per contract field). Forgeries: what an attacker
on the network without the producers' keys can write (no valid signature): events claiming the wrong producer,
unsigned or badly signed envelopes, real records replayed under a new event id or with a changed value (their
copied signature headers must then fail verification), outcomes that contradict the state, ``nomination.submitted``
written straight to Kafka. Generators are seeded: a run is reproducible from its seed.
"""

from __future__ import annotations

import copy
import json
import random
import types
import typing
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from pydantic import AwareDatetime, BaseModel

from shared import topics, topology
from shared.contracts import PAYLOADS, Payload, envelope_class

BROKER_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
BATCH_OVERHEAD = 160
# Header names an authenticated envelope may carry its proof in (branch ``authentic``: a signature and a key id in
# Kafka headers); a forgery copying a real record corrupts these. Any header containing one of these words counts.
SIGNATURE_HEADER_HINTS = ("sig", "kid", "key-id", "mac", "auth")
PAYLOAD_BY_TOPIC: dict[str, type[Payload]] = {p.topic: p for p in PAYLOADS}


@dataclass
class Attack:
    """One record to write. ``cls`` is the suite's class (poison, forged); ``kind`` the generator's name."""

    cls: str
    kind: str
    topic: str  # without the run's prefix
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    event_id: uuid.UUID | None = None  # forgeries: the id a consumer would record in its inbox if it accepted it
    nomination_id: uuid.UUID | None = None  # whose state a forgery tries to change
    partition: int | None = None
    offset: int | None = None  # filled in once written
    refused_by_broker: str | None = None


# ------------------------------------------------------------------------------------------------- declarations
def input_topics() -> list[str]:
    """Every topic some service consumes, in declaration order."""
    return list(dict.fromkeys(t for consumed in topology.consumers().values() for t in consumed))


def consumer_groups(prefix: str) -> dict[str, list[tuple[str, str]]]:
    """topic -> [(service, consumer group)]: the groups that must move past every record of the topic."""
    out: dict[str, list[tuple[str, str]]] = {}
    for service, topic, group in topology.consumer_groups():
        out.setdefault(topic, []).append((service, prefix + group))
    return out


def size_limit(topic: str) -> int:
    """The largest record the topic accepts: declared next to the topic when the declaration says so."""
    spec = next((s for s in topics.all_topics() if s.name == topic), None)
    declared = getattr(spec, "max_message_bytes", None)
    if declared:
        return int(declared)
    config = spec.config() if spec else {}
    return int(config.get("max.message.bytes", BROKER_DEFAULT_MAX_MESSAGE_BYTES))


def owner(topic: str) -> str:
    return topology.owners().get(topic, "unknown")


# ------------------------------------------------------------------------------------------- sample envelopes
def _sample(annotation: Any, rng: random.Random, name: str) -> Any:
    """A valid JSON value for a field of this annotation (enough for the contracts' types)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return rng.choice(args)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _sample(non_none[0], rng, name)
    if origin is tuple:
        return [_sample(args[0], rng, name)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_model(annotation, rng)
    if annotation is uuid.UUID:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if annotation is date:
        return "2026-11-02"
    if annotation is datetime or annotation is AwareDatetime:
        return datetime.now(UTC).isoformat()
    if annotation is bool:
        return False
    if annotation is int:
        return 2026 if "year" in name else 1
    if annotation is float:
        return 90.0
    if name == "sha256":
        return "0" * 64
    if name == "occupation":
        return "nelayan"
    if "nik" in name:
        return "6408014501900001"
    if "sha256" in name:
        return "0" * 64
    if "phone" in name:
        return "+6281234567890"
    if "code" in name or "regency" in name:
        return "64.08.01.2001" if "desa" in name or "region" in name else "64.08"
    return f"hostile-{rng.randrange(10**6)}"


def sample_model(model: type[BaseModel], rng: random.Random) -> dict[str, Any]:
    return {name: _sample(f.annotation, rng, name) for name, f in model.model_fields.items()}


def sample_envelope(payload_cls: type[Payload], rng: random.Random, producer: str | None = None) -> dict[str, Any]:
    """A valid envelope dict of ``payload_cls`` (checked against the model), as an attacker would write it."""
    payload = sample_model(payload_cls, rng)
    nomination_id = payload.get("nomination_id") or str(uuid.uuid4())
    data = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": payload_cls.event_type,
        "schema_version": payload_cls.schema_version,
        "occurred_at": datetime.now(UTC).isoformat(),
        "correlation_id": nomination_id,
        "causation_id": None,
        "producer": producer or owner(payload_cls.topic),
        "person_key": f"{rng.getrandbits(128):032x}",
        "payload": payload,
    }
    envelope_class(payload_cls).model_validate(data)
    return data


# ---------------------------------------------------------------------------------------------------- poison
def _dumps(data: Any) -> bytes:
    """JSON as any client library would write it (big integers included, which orjson refuses)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target = out
    for part in path[:-1]:
        target = target[part]
    if value is _DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return out


_DELETE = object()


def _field_paths(data: dict[str, Any], base: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every field of the envelope, nested models included (``payload.nominator.phone``)."""
    out = []
    for name, value in data.items():
        out.append((*base, name))
        if isinstance(value, dict):
            out += _field_paths(value, (*base, name))
    return out


def _violations(value: Any, rng: random.Random) -> list[tuple[str, Any]]:
    """Values that break a field: its absence, another type, NUL and control characters, absurd sizes."""
    text = value if isinstance(value, str) else "x"
    cut = rng.randrange(len(text) + 1)
    return [
        ("missing", _DELETE),
        ("null", None),
        ("wrong type: number", rng.choice([0, -1, 2**63, 1e308])),
        ("wrong type: list", [text]),
        ("wrong type: object", {"x": text}),
        ("NUL inside", text[:cut] + "\x00" + text[cut:]),
        ("control characters", text[:cut] + "".join(chr(rng.randrange(1, 32)) for _ in range(4)) + text[cut:]),
        ("lone surrogate escaped", text[:cut] + "\\ud800" + text[cut:]),
        ("very long", text * (20_000 // max(1, len(text)) + 1)),
        ("bidi and zero-width", "\u202e" + text + "\u200b\ufeff"),
    ]


def schema_poison(topic: str, template: dict[str, Any], rng: random.Random, per_field: int | None) -> list[Attack]:
    """One schema violation (``per_field`` random ones, or all when None) for every field of the envelope."""
    out = []
    for path in _field_paths(template):
        current: Any = template
        for part in path:
            current = current[part]
        choices = _violations(current, rng)
        picked = choices if per_field is None else rng.sample(choices, min(per_field, len(choices)))
        for how, bad in picked:
            data = _set(template, path, bad)
            out.append(Attack("poison", f"schema: {'.'.join(path)} {how}", topic, _dumps(data), key=b"hostile"))
    extra = {**template, "payload": {**template["payload"], "unexpected_field": "x"}}
    out.append(Attack("poison", "schema: unexpected field", topic, _dumps(extra), key=b"hostile"))
    return out


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def byte_poison(topic: str, template: dict[str, Any], rng: random.Random) -> list[Attack]:
    """Poison at the byte level: value, key and headers that are not what a decoder expects."""
    good = _dumps(template)
    uuid_with_nul = template["event_id"][:8] + "\x00" + template["event_id"][9:]
    invalid_utf8 = b"\xff\xfe\xc3\x28" + _random_bytes(rng, 8)
    cases: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
        ("value: NUL in a UUID field", _dumps({**template, "event_id": uuid_with_nul}), b"hostile", []),
        ("value: raw NUL bytes", good[:10] + b"\x00" + good[10:], b"hostile", []),
        ("value: invalid UTF-8", invalid_utf8 + good, b"hostile", []),
        ("value: invalid UTF-8 inside a string", good.replace(b'"payload"', b'"pay\xffload"', 1), b"hostile", []),
        ("value: control characters", good.replace(b'"', b'"\x01\x02\x1b', 1), b"hostile", []),
        ("value: random bytes", _random_bytes(rng, rng.randrange(1, 512)), b"hostile", []),
        ("value: empty", b"", b"hostile", []),
        ("value: missing (tombstone)", None, b"hostile", []),
        ("value: JSON array", b"[1,2,3]", b"hostile", []),
        ("value: JSON null", b"null", b"hostile", []),
        ("value: deeply nested", b"[" * 50_000 + b"]" * 50_000, b"hostile", []),
        ("value: JSON with duplicate keys", good[:-1] + b',"event_id":"x"}', b"hostile", []),
        ("key: missing", good, None, []),
        ("key: NUL and control characters", good, b"ho\x00st\x01ile", []),
        ("key: invalid UTF-8", good, invalid_utf8, []),
        ("key: 10 kB", good, b"k" * 10_000, []),
        ("header: invalid UTF-8 value", good, b"hostile", [("x-hostile", invalid_utf8)]),
        ("header: NUL in name and value", good, b"hostile", [("x-\x00hostile", b"a\x00b")]),
        ("header: control characters", good, b"hostile", [("x-hostile\x1b", b"\x01\x02\x7f")]),
        ("header: 200 headers", good, b"hostile", [(f"x-h{i}", b"v" * 100) for i in range(200)]),
        (
            "header: forged dead-letter headers",
            good,
            b"hostile",
            [("x-dlq-reason", b"\x00" * 10), ("x-original-topic", invalid_utf8), ("x-original-offset", b"-1")],
        ),
    ]
    return [Attack("poison", kind, topic, value, key=key, headers=headers) for kind, value, key, headers in cases]


def size_poison(topic: str, template: dict[str, Any], rng: random.Random) -> list[Attack]:
    """Values just under the topic's limit: a valid-looking envelope with a huge string, and garbage."""
    limit = size_limit(topic)
    # The broker's limit is on the record batch: ~61 bytes of batch header and ~20 of record overhead besides the key
    # (7 bytes here). A value this close is accepted, and its dead-letter copy (the same value plus ~7 headers) is not,
    # unless the dead-letter topic accepts more than its source (issue 11: sizes declared together).
    room = limit - BATCH_OVERHEAD
    padded = _set(template, ("payload", "hostile_padding"), "")
    base = len(_dumps(padded))
    padded = _set(template, ("payload", "hostile_padding"), "A" * max(0, room - base))
    noise = _random_bytes(rng, 64) * (room // 64)
    return [
        Attack("poison", "size: envelope near the limit", topic, _dumps(padded), key=b"hostile"),
        Attack("poison", "size: garbage near the limit", topic, noise, key=b"hostile"),
        Attack("poison", "size: NUL-filled near the limit", topic, b"\x00" * room, key=b"hostile"),
    ]


def poison_for(
    topic: str, template: dict[str, Any], rng: random.Random, per_field: int | None, with_size: bool = True
) -> list[Attack]:
    attacks = byte_poison(topic, template, rng) + schema_poison(topic, template, rng, per_field)
    return attacks + (size_poison(topic, template, rng) if with_size else [])


# ------------------------------------------------------------------------------------------------- forgeries
@dataclass
class RealRecord:
    """A record the real services wrote (copied by the attacker from the topic)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def envelope(self) -> dict[str, Any]:
        envelope: dict[str, Any] = orjson.loads(self.value)
        return envelope


def _corrupt_signature(headers: list[tuple[str, bytes]], rng: random.Random) -> list[tuple[str, bytes]]:
    out = []
    found = False
    for name, value in headers:
        if any(hint in name.lower() for hint in SIGNATURE_HEADER_HINTS):
            found = True
            flipped = bytearray(value or b"\x00")
            flipped[rng.randrange(len(flipped))] ^= 0x01
            out.append((name, bytes(flipped)))
        else:
            out.append((name, value))
    if not found:  # nothing to corrupt today: send what a forger guessing the scheme would
        out += [("x-payung-signature", _random_bytes(rng, 64).hex().encode()), ("x-payung-key-id", b"enrolment-1")]
    return out


def _renewed(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**envelope, "event_id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat(), **changes}


def _attack(kind: str, topic: str, envelope: dict[str, Any], key: bytes | None, headers: list[Any]) -> Attack:
    return Attack(
        "forged",
        kind,
        topic,
        _dumps(envelope),
        key=key,
        headers=headers,
        event_id=uuid.UUID(envelope["event_id"]),
        nomination_id=uuid.UUID(envelope["correlation_id"]),
    )


def replays(real: list[RealRecord], rng: random.Random) -> list[Attack]:
    """Real records copied: new event id (signature headers kept), a changed value, another producer, unsigned,
    badly signed."""
    out = []
    for record in real:
        env = record.envelope
        others = sorted({*topology.consumers(), *topology.owners().values()} - {env["producer"]})
        tampered = copy.deepcopy(env)
        strings = [k for k, v in tampered["payload"].items() if isinstance(v, str) and k != "nomination_id"]
        if strings:
            field_name = rng.choice(strings)
            tampered["payload"][field_name] = (
                "FAKE-000001" if "number" in field_name else tampered["payload"][field_name] + " (palsu)"
            )
        variants = [
            ("replay under a new event id", _renewed(env), record.headers),
            ("changed value, signature headers copied", _renewed(tampered), record.headers),
            ("wrong producer", _renewed(env, producer=rng.choice(others)), record.headers),
            ("unsigned copy", _renewed(env), []),
            ("badly signed copy", _renewed(env), _corrupt_signature(record.headers, rng)),
        ]
        out += [_attack(f"{record.topic}: {kind}", record.topic, e, record.key, h) for kind, e, h in variants]
    return out


def contradictions(
    rejected: list[RealRecord], enrolled: list[RealRecord], never: list[dict[str, Any]], rng: random.Random
) -> list[Attack]:
    """Events that contradict the state, each claiming its rightful producer, none signed.

    ``rejected``: identity.rejected records; ``enrolled``: identity.verified records of people who got a seat;
    ``never``: nomination requests of registry people nobody nominated.
    """
    out: list[Attack] = []
    for record in rejected:
        env = record.envelope
        p = env["payload"]
        confirmed = sample_envelope(PAYLOAD_BY_TOPIC[topics.ENROLMENT_CONFIRMED], rng)
        confirmed |= {"correlation_id": env["correlation_id"], "person_key": env["person_key"]}
        confirmed["payload"] |= {
            "nomination_id": p["nomination_id"],
            "full_name": p["full_name"],
            "desa_code": p["desa_code"],
            "nominator": p["nominator"],
            "membership_number": "FAKE-000001",
        }
        out.append(_attack("rejected -> enrolled", topics.ENROLMENT_CONFIRMED, confirmed, record.key, []))
        verified = sample_envelope(PAYLOAD_BY_TOPIC[topics.IDENTITY_VERIFIED], rng)
        verified |= {"correlation_id": env["correlation_id"], "person_key": env["person_key"]}
        verified["payload"] |= {"nomination_id": p["nomination_id"], "nominator": p["nominator"]}
        out.append(_attack("rejected -> verified", topics.IDENTITY_VERIFIED, verified, record.key, []))
    for record in enrolled:
        env = record.envelope
        p = env["payload"]
        died = sample_envelope(PAYLOAD_BY_TOPIC[topics.REGISTRY_PERSON_UPDATED], rng)
        died |= {"correlation_id": env["correlation_id"], "person_key": env["person_key"]}
        died["payload"] |= {"nomination_id": p["nomination_id"], "nik": p["nik"], "change": "deceased"}
        out.append(_attack("living person reported deceased", topics.REGISTRY_PERSON_UPDATED, died, record.key, []))
    for request in never:
        confirmed = sample_envelope(PAYLOAD_BY_TOPIC[topics.ENROLMENT_CONFIRMED], rng)
        confirmed["payload"] |= {"membership_number": "FAKE-000001", "phone": "+6281299990000"}
        out.append(_attack("confirmed, never nominated", topics.ENROLMENT_CONFIRMED, confirmed, None, []))
        submitted = sample_envelope(PAYLOAD_BY_TOPIC[topics.NOMINATION_SUBMITTED], rng)
        fields = ("nik", "full_name", "birth_date", "sex", "address", "occupation", "nominator", "supporting_letter")
        submitted["payload"] |= {k: request[k] for k in fields if k in request}
        submitted["payload"]["phone"] = "+6281299990001"
        out.append(_attack("nomination.submitted straight to Kafka", topics.NOMINATION_SUBMITTED, submitted, None, []))
    return out
