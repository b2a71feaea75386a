"""Event signatures (shared/signing.py): who may produce what, with which key, and what a consumer refuses."""

from __future__ import annotations

import json
import stat
import uuid
from datetime import date
from pathlib import Path

import pytest

from deploy.native import stack
from deploy.native.config import StackConfig
from shared import outbox, signing, topics, topology
from shared.contracts import EnrolmentConfirmed, Nominator, decode, new_envelope
from shared.errors import PoisonMessage
from tests import signed

TOPIC = "t." + topics.ENROLMENT_CONFIRMED


def confirmation(producer: str = "enrolment"):
    payload = EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="1", funding_source="APBD-KAB", funding_source_name="APBD",
        programme_year=2026, coverage_start=date(2026, 12, 1), full_name="Siti", phone="+6281234567890",
        desa_code="64.08.01.2001", nominator=Nominator(type="rt", name="RT", region_code="64.08.01.2001"),
    )  # fmt: skip
    return new_envelope(payload, producer=producer, person_key="k" * 32, correlation_id=payload.nomination_id)


def check(value: bytes, headers, topic: str = TOPIC) -> None:
    signing.check(topic, value, headers, decode(value))


def error_type(value: bytes, headers, topic: str = TOPIC) -> str:
    with pytest.raises(PoisonMessage) as caught:
        check(value, headers, topic)
    return caught.value.error_type


def test_every_event_topic_has_one_owner_and_acls_grant_write_to_it_alone() -> None:
    from deploy.native.acls import service_acls

    assert set(topology.owners()) == set(topics.EVENT_TOPICS)
    for topic, owner in topology.owners().items():
        writers = {
            service
            for service in set(topology.owners().values()) | {"reporting"}
            if any(a.name == topic and a.operation == "Write" for a in service_acls(service))
        }
        assert writers == {owner}, topic


def test_the_outbox_signs_and_a_consumer_accepts_the_owners_event() -> None:
    record = outbox.envelope_record(confirmation(), "t.")
    headers = [(k, v.encode()) for k, v in record.headers]
    check(record.value, headers)  # no exception


def test_forgeries_are_refused_with_their_reason() -> None:
    env = confirmation()
    value = outbox.envelope_record(env, "t.").value
    assert error_type(value, []) == "unsigned"
    assert error_type(value, signed.headers(TOPIC, value, producer="verification")) == "forged_producer"
    as_verification = outbox.envelope_record(confirmation(producer="verification"), "t.")
    own_headers = [(k, v.encode()) for k, v in as_verification.headers]
    assert error_type(as_verification.value, own_headers) == "forged_producer"
    other = outbox.envelope_record(confirmation(), "t.").value
    assert error_type(other, signed.headers(TOPIC, value)) == "bad_signature"  # a signature of another event
    stranger = signing.generate("enrolment-unknown")
    assert error_type(value, [(k, v.encode()) for k, v in stranger.headers(TOPIC, value)]) == "unknown_key"
    garbage = [(signing.KID_HEADER, b"\xff\xfe"), (signing.SIG_HEADER, b"\x00")]
    assert error_type(value, garbage) == "unsigned"


def test_a_signed_event_replayed_on_another_topic_is_refused() -> None:
    value = outbox.envelope_record(confirmation(), "t.").value
    assert error_type(value, signed.headers(TOPIC, value), topic="u." + topics.ENROLMENT_CONFIRMED) == "bad_signature"


def test_a_service_refuses_to_start_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "_SIGNERS", {})
    monkeypatch.setattr(signing, "_TRUSTED", {})
    with pytest.raises(signing.SigningNotConfigured, match="SIGNING_KEY"):
        signing.configure("enrolment", signing.SigningSettings())
    signer = signing.generate("enrolment-1")
    with pytest.raises(signing.SigningNotConfigured, match="TRUSTED_KEYS"):
        signing.configure("enrolment", signing.SigningSettings(event_signing_key=signer.secret_text()))
    settings = signing.SigningSettings(
        event_signing_key=signer.secret_text(), event_trusted_keys=signing.trusted_entry(signer, "enrolment")
    )
    signing.configure("enrolment", settings)
    assert signing.sign_headers("enrolment", TOPIC, b"x")[0] == (signing.KID_HEADER, "enrolment-1")
    with pytest.raises(signing.SigningNotConfigured):
        signing.sign_headers("nomination", TOPIC, b"x")  # never an unsigned event


def test_the_native_stack_makes_one_key_pair_per_service_kept_private(tmp_path: Path) -> None:
    cfg = StackConfig(stack_dir=tmp_path)
    keys_dir = stack.local_event_keys(cfg)
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for path in keys_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    trusted = json.loads((keys_dir / "trusted.json").read_text())
    assert sorted(e["producer"] for e in trusted.values()) == sorted(set(topology.owners().values()))
    env = stack.service_env(cfg, "enrolment")
    assert env["PAYUNG_EVENT_SIGNING_KEY_FILE"] == str(keys_dir / "enrolment.key")
    assert stack.service_env(cfg, "reporting")["PAYUNG_EVENT_SIGNING_KEY_FILE"] == str(keys_dir / "reporting.key")
    assert stack.event_signers(cfg)["enrolment"].kid in trusted
    assert stack.local_event_keys(cfg) == keys_dir and json.loads((keys_dir / "trusted.json").read_text()) == trusted


def test_a_submission_proof_ties_a_nomination_id_to_its_person() -> None:
    nomination_id = uuid.uuid4()
    proof = signed.proof(nomination_id, "6408011705800001", "k" * 32)
    statement = signing.submission_statement(nomination_id, "6408011705800001", "k" * 32)
    assert signing.verify_statement("nomination", proof.kid, proof.signature, statement)
    other = signing.submission_statement(nomination_id, "6408011705800002", "k" * 32)
    assert not signing.verify_statement("nomination", proof.kid, proof.signature, other)
    assert not signing.verify_statement("verification", proof.kid, proof.signature, statement)


def test_a_dead_letter_keeps_a_well_formed_signature_only() -> None:
    good = [(signing.KID_HEADER, b"enrolment-1a2b"), (signing.SIG_HEADER, b"abc_DEF-123")]
    assert signing.carried_signature(good) == (("payung-kid", "enrolment-1a2b"), ("payung-sig", "abc_DEF-123"))
    hostile = [(signing.KID_HEADER, b"kid\x00"), (signing.SIG_HEADER, "\u00e9".encode()), ("other", b"x")]
    assert signing.carried_signature(hostile) == ()
    assert signing.carried_signature(None) == ()
