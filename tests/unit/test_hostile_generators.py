"""The hostile suite's generators (bench/hostile_kafka.py) cover what they claim, from the declarations alone."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest

from bench import hostile_kafka as hk
from shared import topology
from shared.contracts import decode
from shared.errors import PoisonMessage


def test_every_consumed_topic_is_attacked_and_has_its_groups() -> None:
    consumed = {t for topics in topology.consumers().values() for t in topics}
    assert set(hk.input_topics()) == consumed
    groups = hk.consumer_groups("p.")
    assert {t for t in groups} == consumed
    assert all(g.startswith("p.") for pairs in groups.values() for _, g in pairs)


@pytest.mark.parametrize("topic", hk.input_topics())
def test_poison_violates_every_field_and_never_decodes(topic: str) -> None:
    rng = random.Random(3)
    template = hk.sample_envelope(hk.PAYLOAD_BY_TOPIC[topic], rng)
    decode(orjson.dumps(template), hk.PAYLOAD_BY_TOPIC[topic])  # the template itself is valid
    schema = hk.schema_poison(topic, template, rng, per_field=None)
    attacked = {a.kind.split(" ", 2)[1] for a in schema}
    # a payload about a nomination has its id attacked too (inbound messages and leads are about none)
    about = {"payload.nomination_id"} if "nomination_id" in hk.PAYLOAD_BY_TOPIC[topic].model_fields else set()
    assert {"event_id", "payload"} | about <= attacked
    undecodable = 0
    for attack in schema + hk.byte_poison(topic, template, rng):
        try:
            decode(attack.value, hk.PAYLOAD_BY_TOPIC[topic])
        except PoisonMessage:
            undecodable += 1
    # most are refused by the decoder itself; the rest (NUL inside a free-text field, say) must be refused later
    assert undecodable > len(schema) // 2


def test_near_limit_values_are_near_the_limit() -> None:
    rng = random.Random(5)
    topic = hk.input_topics()[0]
    template = hk.sample_envelope(hk.PAYLOAD_BY_TOPIC[topic], rng)
    for attack in hk.size_poison(topic, template, rng):
        assert attack.value is not None
        assert hk.size_limit(topic) - 256 < len(attack.value) < hk.size_limit(topic)


def test_generation_is_reproducible_from_the_seed() -> None:
    topic = hk.input_topics()[1]
    template = hk.sample_envelope(hk.PAYLOAD_BY_TOPIC[topic], random.Random(0))

    def kinds(seed: int) -> list[tuple[str, bytes | None]]:
        rng = random.Random(seed)
        return [(a.kind, a.value) for a in hk.poison_for(topic, template, rng, per_field=2)]

    assert kinds(7) == kinds(7)
    assert kinds(7) != kinds(8)


def test_forgeries_of_a_real_record_carry_new_event_ids_and_no_valid_signature() -> None:
    rng = random.Random(1)
    envelope = hk.sample_envelope(hk.PAYLOAD_BY_TOPIC["enrolment.confirmed"], rng)
    signature = [("x-payung-signature", b"abcdef"), ("x-payung-key-id", b"enrolment-1")]
    real = hk.RealRecord("enrolment.confirmed", b"k", orjson.dumps(envelope), signature)
    forged = hk.replays([real], rng)
    assert len(forged) == 5
    assert all(a.event_id != uuid.UUID(envelope["event_id"]) for a in forged)
    by_kind = {a.kind.split(": ", 1)[1]: a for a in forged}
    assert by_kind["unsigned copy"].headers == []
    assert by_kind["badly signed copy"].headers != signature
    assert orjson.loads(by_kind["wrong producer"].value)["producer"] != envelope["producer"]
