"""Kafka with SASL/SCRAM-SHA-512 and ACLs (PAYUNG_KAFKA_SASL=1): a service works with its own principal, and that
principal cannot read, join or write what its ACLs (deploy/native/acls.py) do not grant.

A Kafka of its own is started for this module, next to the test instance (its ports + 2 and + 3), because the
suite's broker runs without SASL.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError
from aiokafka.protocol.admin import CreateAclsRequest

from deploy.native import kafka, stack
from deploy.native.acls import ADMIN_USER, principals
from deploy.native.config import StackConfig, StackTestConfig
from services.enrolment.app import SPEC
from services.enrolment.settings import EnrolmentSettings, FundingSourceConfig
from shared import db, topics, topology
from shared.contracts import Envelope, decode, encode
from shared.service import create_app
from tests import signed
from tests.integration.enrolment_support import verified
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sasl_kafka() -> Iterator[StackConfig]:
    base = StackTestConfig()
    cfg = base.model_copy(
        update={
            "stack_dir": base.stack_dir / "sasl",
            "kafka_port": base.kafka_port + 2,
            "kafka_controller_port": base.kafka_controller_port + 2,
            "kafka_sasl": True,
        }
    )
    kafka.stop(cfg)  # an interrupted earlier run
    shutil.rmtree(cfg.stack_dir, ignore_errors=True)
    try:
        stack.start_kafka(cfg)
        yield cfg
    finally:
        kafka.stop(cfg)


def as_user(cfg: StackConfig, user: str) -> dict[str, Any]:
    return {"bootstrap_servers": cfg.kafka_bootstrap, **kafka.client_options(cfg, user)}


async def test_a_service_runs_with_its_own_principal(sasl_kafka: StackConfig, create_database: Any) -> None:
    cfg = sasl_kafka
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    # Exactly what the native stack hands the service process (deploy/native/stack.py service_env), read as settings.
    env = stack.service_env(cfg, "enrolment")
    settings = EnrolmentSettings(
        database_url=dsn,
        kafka_bootstrap=cfg.kafka_bootstrap,
        kafka_security_protocol=env["PAYUNG_KAFKA_SECURITY_PROTOCOL"],
        kafka_sasl_mechanism=env["PAYUNG_KAFKA_SASL_MECHANISM"],
        kafka_username=env["PAYUNG_KAFKA_USERNAME"],
        kafka_password=env["PAYUNG_KAFKA_PASSWORD"],
        consumer_batch_timeout_ms=20,
        outbox_poll_interval_s=0.2,
        funding_sources=[
            FundingSourceConfig(code="APBD-KAB", name="APBD Kabupaten", quota=5, priority=1, premium_idr=1)
        ],
    )
    assert settings.kafka_username == "enrolment"
    person = verified(1)
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        producer = AIOKafkaProducer(**as_user(cfg, ADMIN_USER))
        reader = AIOKafkaConsumer(
            topics.ENROLMENT_CONFIRMED, **as_user(cfg, ADMIN_USER), auto_offset_reset="earliest", group_id="reader"
        )
        await producer.start()
        await reader.start()
        received: list[Envelope[Any]] = []

        async def confirmed() -> bool:
            batches = await reader.getmany(timeout_ms=200)
            received.extend(decode(m.value) for msgs in batches.values() for m in msgs)
            return len(received) >= 1

        try:
            value = encode(person)
            await producer.send_and_wait(
                topics.IDENTITY_VERIFIED,
                value,
                key=person.person_key.encode(),
                headers=signed.headers(topics.IDENTITY_VERIFIED, value),
            )
            await wait_for(confirmed, "confirmed", timeout=60)
        finally:
            await reader.stop()
            await producer.stop()
        assert received[0].payload.nomination_id == person.payload.nomination_id
        assert rt.consumers[0].stats.processed == 1
        assert await rt.broker.ping(timeout=5)


async def test_a_principal_cannot_read_a_topic_without_an_acl(sasl_kafka: StackConfig) -> None:
    # enrolment consumes identity.verified, not nomination.submitted (verification's input); the group name is one
    # enrolment may use, so only the topic ACL is missing.
    consumer = AIOKafkaConsumer(
        topics.NOMINATION_SUBMITTED, **as_user(sasl_kafka, "enrolment"), group_id="enrolment.snoop"
    )
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.start()
    finally:
        await consumer.stop()


async def test_a_principal_cannot_use_another_services_consumer_group(sasl_kafka: StackConfig) -> None:
    consumer = AIOKafkaConsumer(
        topics.IDENTITY_VERIFIED, **as_user(sasl_kafka, "enrolment"), group_id="notification.identity.verified"
    )
    # The refusal may come from start() (joining the group) or from the first fetches: stopped either way (a consumer
    # left unstopped was the one the whole suite reported as "Unclosed AIOKafkaConsumer" at its end).
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
            for _ in range(50):
                await consumer.getmany(timeout_ms=200)
    finally:
        await consumer.stop()


async def test_a_principal_cannot_write_another_services_topic(sasl_kafka: StackConfig) -> None:
    producer = AIOKafkaProducer(**as_user(sasl_kafka, "enrolment"))
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topics.IDENTITY_VERIFIED, b"forged")
    finally:
        await producer.stop()


async def test_a_wrong_password_is_refused(sasl_kafka: StackConfig) -> None:
    options = {**as_user(sasl_kafka, "enrolment"), "sasl_plain_password": "wrong"}
    producer = AIOKafkaProducer(**options)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


async def test_only_the_owner_of_an_event_topic_may_write_it(sasl_kafka: StackConfig) -> None:
    # Generated from the declared topologies (shared/topology.py): every principal against every event topic (the
    # owner's own write is the control that the refusals are about ACLs, not about the cluster).
    for service in principals():
        producer = AIOKafkaProducer(**as_user(sasl_kafka, service))
        await producer.start()
        try:
            for topic in topics.EVENT_TOPICS:
                if topology.owner(topic) == service:
                    if topic != topics.ENROLMENT_CONFIRMED:  # read and decoded by the test above
                        await producer.send_and_wait(topic, b"owner's write")
                    continue
                with pytest.raises(TopicAuthorizationFailedError):
                    await producer.send_and_wait(topic, b"forged")
        finally:
            await producer.stop()


async def _create_acl_on_controller(cfg: StackConfig, name: str, **sasl: Any) -> int:
    """Send a CreateAcls request straight to the controller listener; returns the error code of the creation."""
    conn = await create_conn(cfg.host, cfg.kafka_controller_port, request_timeout_ms=10_000, **sasl)
    try:
        # ALLOW (3) ALL (2) on the literal (3) topic (2) ``name`` for an intruder's principal
        request = CreateAclsRequest(2, name, 3, "User:intruder", "*", 2, 3)
        response = await conn.send(request)
        ((error_code, _message),) = response.creation_responses
        return int(error_code)
    finally:
        conn.close()


async def test_an_anonymous_client_on_the_controller_port_cannot_create_acls(sasl_kafka: StackConfig) -> None:
    # Before: the controller listener was PLAINTEXT and ANONYMOUS a super user, so anyone on the host could grant
    # themselves everything. Now the listener wants SASL: a plain client is dropped, or refused if it gets an answer.
    try:
        code = await _create_acl_on_controller(sasl_kafka, "intruder-anonymous")
    except (TimeoutError, KafkaError, OSError):
        code = None
    assert code != 0, "an unauthenticated client created an ACL through the controller listener"


async def test_the_admin_can_manage_acls_through_the_controller_port(sasl_kafka: StackConfig) -> None:
    # The control that makes the test above mean something: the same request with the admin's credentials works.
    password = kafka.sasl_users(sasl_kafka)[ADMIN_USER]
    sasl = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}
    sasl |= {"sasl_plain_username": ADMIN_USER, "sasl_plain_password": password}
    assert await _create_acl_on_controller(sasl_kafka, "admin-made", **sasl) == 0


async def test_a_service_principal_cannot_log_in_to_the_controller(sasl_kafka: StackConfig) -> None:
    password = kafka.sasl_users(sasl_kafka)["enrolment"]
    sasl = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}
    sasl |= {"sasl_plain_username": "enrolment", "sasl_plain_password": password}
    with pytest.raises((KafkaError, OSError)):
        await _create_acl_on_controller(sasl_kafka, "enrolment-made", **sasl)
