"""The enrolment service as wired by its ServiceSpec, on real Kafka and PostgreSQL.

Startup syncs the funding sources; events produced to ``identity.verified`` come out on ``enrolment.confirmed``
and ``enrolment.waitlisted`` through the consumer, the outbox and the relay; the HTTP API sees the result.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.enrolment.app import SPEC
from services.enrolment.settings import EnrolmentSettings, FundingSourceConfig
from shared import db, topics
from shared.auth import hash_api_key, new_api_key
from shared.contracts import Envelope, decode, encode, new_envelope
from shared.service import create_app
from tests import signed
from tests.integration.enrolment_support import verified
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_verified_people_come_out_enrolled_or_waitlisted(
    infra: Any, create_database: Any, topic_prefix: str
) -> None:
    dsn = await create_database("enrolment")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    auditor_key = new_api_key()  # the service's routes need a principal; an auditor may read them
    settings = EnrolmentSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        api_keys={hash_api_key(auditor_key): {"name": "test-auditor", "role": "auditor"}},
        topic_prefix=topic_prefix,
        consumer_batch_timeout_ms=20,
        outbox_poll_interval_s=0.2,
        funding_sources=[
            FundingSourceConfig(code="APBD-KAB", name="APBD Kabupaten", quota=2, priority=1, premium_idr=16800)
        ],
    )
    people = [verified(i) for i in range(3)]
    nik_again = signed.proven(
        new_envelope(
            people[0].payload.model_copy(update={"nomination_id": uuid.uuid4()}),
            producer="verification",
            person_key=people[0].person_key,
            correlation_id=uuid.uuid4(),
        )
    )
    out_topics = [settings.topic(topics.ENROLMENT_CONFIRMED), settings.topic(topics.ENROLMENT_WAITLISTED)]
    reader = AIOKafkaConsumer(
        *out_topics,
        bootstrap_servers=infra.kafka_bootstrap,
        auto_offset_reset="earliest",
        group_id=f"{topic_prefix}reader",
    )
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        await reader.start()
        received: list[Envelope[Any]] = []

        async def read() -> None:
            batches = await reader.getmany(timeout_ms=200)
            received.extend(decode(m.value) for msgs in batches.values() for m in msgs)

        async def all_applied_and_published() -> bool:
            await read()
            return rt.consumers[0].stats.processed == 4 and rt.relay.published == 3 and len(received) >= 3

        try:
            for env in [*people, nik_again]:
                topic = settings.topic(topics.IDENTITY_VERIFIED)
                # One partition: the test needs a known arrival order (across partitions there is none).
                value = encode(env)
                await producer.send_and_wait(
                    topic, value, key=env.person_key.encode(), partition=0, headers=signed.headers(topic, value)
                )
            await wait_for(all_applied_and_published, "all applied and published", timeout=30)
            await read()  # anything published by mistake for the repeated NIK would be here by now
        finally:
            await reader.stop()
            await producer.stop()

        by_nomination = {env.payload.nomination_id: env for env in received}
        assert len(received) == 3  # nothing for the NIK verified again under another nomination
        assert {by_nomination[p.payload.nomination_id].event_type for p in people[:2]} == {"EnrolmentConfirmed"}
        last = by_nomination[people[2].payload.nomination_id]
        assert (last.event_type, last.payload.position, last.causation_id) == (
            "EnrolmentWaitlisted",
            1,
            people[2].event_id,
        )
        assert await rt.pool.fetchval("SELECT reason FROM duplicate_attempts") == "nik_holds_seat"

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://enrolment", headers={"X-API-Key": auditor_key}
        ) as client:
            sources = (await client.get("/v1/funding-sources")).json()["sources"]
            assert [(s["code"], s["used"], s["remaining"]) for s in sources] == [("APBD-KAB", 2, 0)]
            assert (await client.get("/v1/waitlist/summary")).json()["years"][0]["waiting"] == 1
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["outbox_backlog"] == 0
