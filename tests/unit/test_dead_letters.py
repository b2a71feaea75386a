"""The dead-letter path is total (pure parts): whatever a record holds, its dead letter can be built, stored as
bytes and fits its dead-letter topic; reasons are safe text that never echoes the value."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from aiokafka import ConsumerRecord
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import outbox, topics
from shared.consumer import Consumer
from shared.contracts import NominationSubmitted, decode
from shared.errors import PoisonMessage, safe_text
from tests.reporting_events import submitted

TOPIC = "u." + topics.NOMINATION_SUBMITTED
NIK = "6408014501900001"


def consumer() -> Consumer:
    async def handler(_conn, _events):  # never called here
        raise AssertionError

    return Consumer(name="svc.poison", topic=TOPIC, payload=NominationSubmitted, handler=handler, pool=None)  # type: ignore[arg-type]


def record(key, value, headers=()) -> ConsumerRecord:
    return ConsumerRecord(TOPIC, 0, 7, 0, 0, key, value, None, 0, 0, headers)


def clean(text: str) -> bool:
    """Valid UTF-8 and no control character (C0, C1, DEL), no unpaired surrogate."""
    text.encode("utf-8")
    return not any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def ours(headers) -> dict[str, str | bytes]:
    return {k: v for k, v in headers if k.startswith("x-")}


def test_a_nul_in_a_uuid_is_a_dead_letter_whose_reason_holds_no_nul_and_no_value() -> None:
    event = submitted(uuid.uuid4(), "64.08.01.2001", "petani", datetime.now(UTC))
    good = orjson.loads(orjson.dumps(event.model_dump(mode="json")))
    good["payload"]["nomination_id"] = "\x00" + NIK
    with pytest.raises(PoisonMessage) as info:
        decode(orjson.dumps(good), NominationSubmitted)
    letter = consumer()._dlq_record(record(b"k", orjson.dumps(good)), info.value)
    reason = ours(letter.headers)["x-dlq-reason"]
    assert "payload.nomination_id" in reason and "\x00" not in reason and NIK not in reason
    assert outbox.unpack_headers(outbox.pack_headers(letter.headers))[-7][0] == "x-dlq-reason"


def test_reasons_never_echo_values() -> None:
    secret = "Siti Aminah " + NIK
    cases = [
        {"event_type": secret, "schema_version": 1},
        {"event_type": "NominationSubmitted", "schema_version": secret},
        {"event_type": "NominationSubmitted", "schema_version": 1, "payload": {secret: 1, "nik": [secret]}},
    ]
    for case in cases:
        with pytest.raises(PoisonMessage) as info:
            decode(orjson.dumps(case), NominationSubmitted)
        assert "Siti" not in info.value.reason and NIK not in info.value.reason, info.value.reason


def test_safe_text_is_bounded_valid_utf8_without_controls() -> None:
    text = safe_text("a\x00b\x1b[31m\ud800\u202e" + NIK + "x" * 5000, 100)
    assert len(text) <= 100
    text.encode("utf-8")  # no unpaired surrogate left
    assert clean(text)
    assert NIK not in text
    assert safe_text(object.__new__(type("Weird", (), {"__str__": lambda _s: 1 / 0}))) == "<Weird>"


anything = st.one_of(st.none(), st.binary(max_size=300), st.text(max_size=100))
header = st.tuples(st.text(max_size=20), st.one_of(st.none(), st.binary(max_size=50)))


@settings(max_examples=300, deadline=None)
@given(key=anything, value=anything, headers=st.lists(header, max_size=5), reason=st.text(), kind=st.text())
def test_any_record_makes_a_storable_dead_letter(key, value, headers, reason, kind) -> None:
    letter = consumer()._dlq_record(record(key, value, tuple(headers)), PoisonMessage(reason, kind))
    packed = outbox.pack_headers(letter.headers)
    assert [k for k, _ in outbox.unpack_headers(packed)] == [k for k, _ in letter.headers]
    for name, text in ours(letter.headers).items():
        assert isinstance(text, str) and clean(text) and len(text) <= 1000, name
    assert isinstance(letter.value, bytes) and (letter.key is None or isinstance(letter.key, bytes))


def test_a_copy_too_large_for_its_dlq_is_cut_with_a_header_saying_so() -> None:
    huge = b"v" * (topics.max_message_bytes(topics.dlq(TOPIC)) + 10)
    letter = consumer()._dlq_record(record(b"k", huge, (("h", b"x" * 100),)), PoisonMessage("too big", "t"))
    size = len(letter.value) + len(outbox.pack_headers(letter.headers)) + len(letter.key or b"")
    assert size < topics.max_message_bytes(topics.dlq(TOPIC))
    assert "x-dlq-truncated" in ours(letter.headers)
    assert letter.value == huge[: len(letter.value)]


def test_declared_sizes_let_every_dead_letter_of_an_accepted_record_fit() -> None:
    specs = {s.name: s for s in topics.all_topics("p.")}
    for name in topics.EVENT_TOPICS:
        source, dead = specs["p." + name], specs["p." + topics.dlq(name)]
        assert dead.max_message_bytes >= source.max_message_bytes + topics.DLQ_HEADROOM_BYTES
        assert int(dead.config()["max.message.bytes"]) == dead.max_message_bytes
        assert topics.max_message_bytes(dead.name) == dead.max_message_bytes
        assert topics.MAX_REQUEST_BYTES > dead.max_message_bytes
    # the largest record the source accepts, dead-lettered with a maximal reason, is not cut
    value = b"v" * (topics.EVENT_MAX_BYTES - 200)
    letter = consumer()._dlq_record(record(b"k" * 32, value), PoisonMessage("r" * 5000, "e" * 100))
    assert letter.value == value and "x-dlq-truncated" not in ours(letter.headers)
