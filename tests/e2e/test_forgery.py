"""Forged events change nothing: each is dead-lettered with its reason, against the real broker and services.

Every case writes straight to Kafka, as an attacker on the network (or a careless integrator) would: events not
signed, signed with another service's key, naming a producer that does not own the event type, tampered after
signing, or signed with a key nobody trusts. The last test republishes a REAL, correctly signed confirmation under
a new event id: notification must tell the person once.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from shared import signing, topics, topology
from shared.contracts import EnrolmentConfirmed, NominationSubmitted, Nominator, RegistryPersonUpdated, encode
from shared.contracts import new_envelope as envelope_of
from tests.e2e.pipeline import Pipeline
from tests.waiting import wait_for

pytestmark = pytest.mark.e2e

DESA = "64.08.01.2001"
NOMINATOR = Nominator(type="rt", name="Ketua RT 03", region_code=DESA, phone="+6281298765432")


async def send(pipeline: Pipeline, topic: str, value: bytes, key: bytes | None, headers: Any) -> tuple[int, int]:
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.kafka_bootstrap)
    await producer.start()
    try:
        meta = await producer.send_and_wait(pipeline.topic(topic), value, key=key, headers=headers)
        return meta.partition, meta.offset
    finally:
        await producer.stop()


async def dead_letter(pipeline: Pipeline, topic: str, where: tuple[int, int], group: str) -> dict[str, str]:
    """The dead letter ``group`` wrote for the record at ``where`` of ``topic`` (waits for it)."""

    async def found() -> dict[str, str] | None:
        for record in await pipeline.read_topic(topics.dlq(topic)):
            headers = {k: v.decode() for k, v in record.headers}
            if (
                headers.get("x-consumer-group"),
                headers.get("x-original-partition"),
                headers.get("x-original-offset"),
            ) == (
                group,
                str(where[0]),
                str(where[1]),
            ):
                return headers
        return None

    return await wait_for(found, f"{group} to dead-letter the forged {topic} event", timeout=90)


def forgeries(pipeline: Pipeline, topic: str, env: Any, impostor: str) -> list[tuple[str, bytes, Any, str]]:
    """(case, value, headers, expected error type) for one event that the owner of ``topic`` never produced."""
    owner = topology.owner(topic)
    signers = pipeline_signers(pipeline)
    value = encode(env)
    as_impostor = env.model_copy(update={"producer": impostor, "event_id": uuid.uuid4()})
    fresh = env.model_copy(update={"event_id": uuid.uuid4()})
    tampered = encode(fresh.model_copy(update={"event_id": uuid.uuid4()}))  # sent with the signature of ``fresh``
    stranger = signing.generate(f"{owner}-stolen-kid")
    return [
        ("unsigned", value, [], "unsigned"),
        ("another's key", encode(fresh), sign(signers[impostor], topic, encode(fresh), pipeline), "forged_producer"),
        (
            "another service names itself producer",
            encode(as_impostor),
            sign(signers[impostor], topic, encode(as_impostor), pipeline),
            "forged_producer",
        ),
        ("tampered after signing", tampered, sign(signers[owner], topic, encode(fresh), pipeline), "bad_signature"),
        ("a key nobody trusts", encode(fresh), sign(stranger, topic, encode(fresh), pipeline), "unknown_key"),
    ]  # fmt: skip


def pipeline_signers(pipeline: Pipeline) -> dict[str, signing.Signer]:
    from deploy.native import stack

    return stack.event_signers(pipeline.cfg)


def sign(signer: signing.Signer, topic: str, value: bytes, pipeline: Pipeline) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in signer.headers(pipeline.topic(topic), value)]


def confirmation(nomination_id: uuid.UUID, person_key: str) -> Any:
    payload = EnrolmentConfirmed(
        nomination_id=nomination_id, membership_number="FAKE-000001", funding_source="APBD-KAB",
        funding_source_name="APBD Kabupaten Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone="+6281234567890", desa_code=DESA, nominator=NOMINATOR,
    )  # fmt: skip
    return envelope_of(payload, producer="enrolment", person_key=person_key, correlation_id=nomination_id)


async def test_a_forged_confirmation_for_someone_never_nominated_sends_nothing(pipeline):
    nomination_id = uuid.uuid4()
    env = confirmation(nomination_id, uuid.uuid4().hex)
    for case, value, headers, error_type in forgeries(pipeline, topics.ENROLMENT_CONFIRMED, env, "verification"):
        where = await send(pipeline, topics.ENROLMENT_CONFIRMED, value, env.person_key.encode(), headers)
        letter = await dead_letter(pipeline, topics.ENROLMENT_CONFIRMED, where, "notification.events")
        assert letter["x-dlq-error-type"] == error_type, case
    deliveries = await pipeline.fetchval(
        "notification", "SELECT count(*) FROM deliveries WHERE nomination_id = $1", nomination_id
    )
    assert deliveries == 0
    assert "FAKE-000001" not in pipeline.messages_file.read_text(errors="replace")


async def test_a_forged_confirmation_does_not_turn_a_rejected_nomination_into_enrolled(pipeline, people, client):
    (person,) = people.take("rejected:DECEASED")
    response = await pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    nomination_id = response.json()["nomination_id"]
    await pipeline.wait_status(client, nomination_id, {"notified"})
    env = confirmation(uuid.UUID(nomination_id), pipeline.person_key(person.request["nik"]))
    where = await send(pipeline, topics.ENROLMENT_CONFIRMED, encode(env), env.person_key.encode(), [])
    letter = await dead_letter(pipeline, topics.ENROLMENT_CONFIRMED, where, "nomination.progress")
    assert letter["x-dlq-error-type"] == "unsigned"
    # Even correctly signed by enrolment (a bug there, or its key stolen), the contradiction changes nothing.
    signed = env.model_copy(update={"event_id": uuid.uuid4()})
    value = encode(signed)
    headers = sign(pipeline_signers(pipeline)["enrolment"], topics.ENROLMENT_CONFIRMED, value, pipeline)
    where = await send(pipeline, topics.ENROLMENT_CONFIRMED, value, env.person_key.encode(), headers)
    letter = await dead_letter(pipeline, topics.ENROLMENT_CONFIRMED, where, "nomination.progress")
    assert letter["x-dlq-error-type"] == "inconsistent"
    view = await pipeline.nomination(client, nomination_id)
    assert view["status"] == "notified" and view["outcome"] == "rejected", view


async def test_a_nomination_written_straight_to_kafka_gets_no_seat(pipeline, people):
    (person,) = people.take("accepted")
    nomination_id = uuid.uuid4()
    payload = NominationSubmitted(nomination_id=nomination_id, programme_regency="64.08", **person.request)
    key = pipeline.person_key(person.request["nik"])
    env = envelope_of(payload, producer="nomination", person_key=key, correlation_id=nomination_id)
    for case, value, headers, error_type in forgeries(pipeline, topics.NOMINATION_SUBMITTED, env, "enrolment"):
        where = await send(pipeline, topics.NOMINATION_SUBMITTED, value, key.encode(), headers)
        letter = await dead_letter(pipeline, topics.NOMINATION_SUBMITTED, where, "verification.nomination.submitted")
        assert letter["x-dlq-error-type"] == error_type, case
    verifications = "SELECT count(*) FROM verifications WHERE person_key = $1 OR nomination_id = $2"
    assert await pipeline.fetchval("verification", verifications, key, nomination_id) == 0
    seats = await pipeline.fetchval("enrolment", "SELECT count(*) FROM seats WHERE person_key = $1", key)
    waiting = await pipeline.fetchval("enrolment", "SELECT count(*) FROM waitlist WHERE person_key = $1", key)
    assert seats + waiting == 0


async def test_a_forged_death_does_not_end_a_living_persons_cover(pipeline, people, client):
    (person,) = people.take("accepted")
    response = await pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    nomination_id = response.json()["nomination_id"]
    view = await pipeline.wait_status(client, nomination_id, {"notified"})
    key = pipeline.person_key(person.request["nik"])
    payload = RegistryPersonUpdated(
        nomination_id=uuid.UUID(nomination_id), nik=person.request["nik"], change="deceased",
        effective_date=date(2026, 12, 1), snapshot_id=999,
    )  # fmt: skip
    env = envelope_of(payload, producer="verification", person_key=key, correlation_id=uuid.UUID(nomination_id))
    for case, value, headers, error_type in forgeries(pipeline, topics.REGISTRY_PERSON_UPDATED, env, "nomination"):
        where = await send(pipeline, topics.REGISTRY_PERSON_UPDATED, value, key.encode(), headers)
        letter = await dead_letter(pipeline, topics.REGISTRY_PERSON_UPDATED, where, "enrolment.registry.person_updated")
        assert letter["x-dlq-error-type"] == error_type, case
    after = await pipeline.nomination(client, nomination_id)
    assert after["status"] == view["status"] and after["outcome"] in ("enrolled", "waitlisted"), after
    ended = await pipeline.fetchval(
        "enrolment", "SELECT count(*) FROM enrolment_changes WHERE nomination_id = $1 AND change = 'ended'",
        uuid.UUID(nomination_id),
    )  # fmt: skip
    assert ended == 0


async def test_a_real_confirmation_republished_under_a_new_event_id_sends_one_message(pipeline, people, client):
    (person,) = people.take("accepted")
    response = await pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    nomination_id = response.json()["nomination_id"]
    await pipeline.wait_status(client, nomination_id, {"notified"})
    original = None
    for topic in (topics.ENROLMENT_CONFIRMED, topics.ENROLMENT_WAITLISTED):
        for record in await pipeline.read_topic(topic):
            if nomination_id.encode() in record.value and orjson.loads(record.value)["correlation_id"] == nomination_id:
                original = (topic, record)
    assert original is not None
    topic, record = original
    copy = orjson.loads(record.value)
    copy["event_id"] = str(uuid.uuid4())
    value = orjson.dumps(copy)
    # Signed with enrolment's own key: what a relay replaying its outbox after a restore would send.
    headers = sign(pipeline_signers(pipeline)["enrolment"], topic, value, pipeline)
    await send(pipeline, topic, value, record.key, headers)

    async def consumed() -> bool:
        query = "SELECT count(*) FROM inbox WHERE event_id = $1"
        return bool(await pipeline.fetchval("notification", query, uuid.UUID(copy["event_id"])))

    await wait_for(consumed, "notification to consume the republished event", timeout=90)
    told = await pipeline.fetchval(
        "notification",
        "SELECT count(*) FROM deliveries WHERE nomination_id = $1 AND recipient_role = 'beneficiary'"
        " AND purpose <> 'claim_reminder'",
        uuid.UUID(nomination_id),
    )
    assert told == 1
