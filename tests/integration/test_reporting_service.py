"""The reporting service as wired by its ServiceSpec, fed an event stream on real Kafka and PostgreSQL.

Events go onto the topics the way the other services publish them (some deliberately twice, some out of order,
one undecodable); the counts of the JSON API must come out exact, the undecodable message must show up as a dead
letter, and the consumer lag must drain to zero.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from services.reporting.app import SPEC
from services.reporting.settings import FundingSource, ReportingSettings
from shared import db, topics
from shared.contracts import (
    encode,
)
from shared.service import create_app
from tests import signed
from tests.reporting_events import auditor, confirmed, rejected, review, submitted, verified
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

KEC_A, KEC_B = "64.08.01", "64.08.04"
DESA_A, DESA_B = "64.08.01.2001", "64.08.04.1001"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_event_stream_becomes_exact_counts(infra: Any, create_database: Any, topic_prefix: str) -> None:
    dsn = await create_database("reporting")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    auth_settings, headers = auditor()
    settings = ReportingSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=topic_prefix,
        consumer_batch_timeout_ms=20,
        outbox_poll_interval_s=0.2,
        health_cache_s=0,
        forecast_enabled=False,  # its relay must publish the dead letter alone (the forecast has its own test)
        target=10,
        funding_sources=[FundingSource(code="APBD-KAB", name="APBD Kab", quota=4, premium_idr=16800)],
        **auth_settings,
    )
    ids = [uuid.uuid4() for _ in range(6)]
    day2 = T0 + timedelta(days=1)
    stream = [
        # three enrolled: two in kecamatan A (one enrolled a day later), one in B; the confirmation of the
        # last one is sent before its submission (topics are consumed independently)
        submitted(ids[0], DESA_A, "nelayan", T0),
        verified(ids[0], DESA_A, T0),
        confirmed(ids[0], DESA_A, "APBD-KAB", T0),
        submitted(ids[1], DESA_A, "nelayan", T0),
        confirmed(ids[1], DESA_A, "APBD-KAB", day2),
        confirmed(ids[2], DESA_B, "APBD-KAB", day2),
        submitted(ids[2], DESA_B, "ojek", T0),
        # two rejected, one for two reasons; one waiting for review
        submitted(ids[3], DESA_B, "ojek", T0),
        rejected(ids[3], DESA_B, ("NAME_MISMATCH", "DECEASED"), T0),
        submitted(ids[4], DESA_B, "sopir", T0),
        rejected(ids[4], DESA_B, ("NAME_MISMATCH",), T0),
        submitted(ids[5], DESA_A, "sopir", T0),
        review(ids[5], DESA_A, T0),
    ]
    stream.append(stream[0])  # a redelivery: counted once
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            for env in stream:
                topic, value = settings.topic(env.payload.topic), encode(env)
                await producer.send_and_wait(topic, value, key=b"p" * 16, headers=signed.headers(topic, value))
            await producer.send_and_wait(settings.topic(topics.IDENTITY_REJECTED), b"not json", key=b"x")
        finally:
            await producer.stop()

        async def seen_all() -> bool:
            processed = sum(c.stats.processed + c.stats.duplicates for c in rt.consumers)
            dead = sum(c.stats.dead_lettered for c in rt.consumers)
            return processed == len(stream) and dead == 1 and rt.relay.published == 1

        await wait_for(seen_all, "every event in the read model", timeout=60)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://reporting", headers=headers
        ) as client:

            async def get(path: str) -> Any:
                response = await client.get(path)
                assert response.status_code == 200, response.text
                return response.json()

            overview = await get("/v1/reports/overview")
            assert (overview["nominated"], overview["covered"], overview["review_queue"]) == (6, 3, 1)
            assert overview["coverage_share"] == 0.3
            assert {s["status"]: s["count"] for s in overview["by_status"]}["rejected"] == 2

            coverage = await get("/v1/reports/coverage?lang=en")
            kec = {k["code"]: k for k in coverage["by_kecamatan"]}
            assert (kec[KEC_A]["nominated"], kec[KEC_A]["covered"], kec[KEC_A]["name"]) == (3, 2, "Muara Ancalong")
            assert (kec[KEC_B]["nominated"], kec[KEC_B]["covered"], kec[KEC_B]["rejected"]) == (3, 1, 2)
            assert kec["64.08.02"]["nominated"] == 0  # every kecamatan of the regency is listed
            assert [(p["nominated"], p["covered"]) for p in coverage["series"]] == [(6, 1), (6, 3)]
            occupations = {o["code"]: (o["nominated"], o["covered"], o["label"]) for o in coverage["by_occupation"]}
            assert occupations["ojek"] == (2, 1, "Motorcycle taxi")
            assert coverage["by_funding_source"] == [{"code": "APBD-KAB", "name": "APBD Kab", "covered": 3, "quota": 4}]
            desa = {
                d["code"]: d["nominated"] for d in (await get(f"/v1/reports/coverage?kecamatan={KEC_A}"))["by_desa"]
            }
            assert desa == {DESA_A: 3}

            budget = (await get("/v1/reports/budget"))["sources"][0]
            assert (budget["active"], budget["yearly_committed_idr"], budget["yearly_allocated_idr"]) == (
                3,
                3 * 16800 * 12,
                4 * 16800 * 12,
            )

            rejections = await get("/v1/reports/rejections")
            assert [(r["code"], r["count"]) for r in rejections["reasons"]] == [("NAME_MISMATCH", 2), ("DECEASED", 1)]

            async def drained() -> bool:
                health = await get("/v1/reports/health")
                return health["lag_by_service"]["reporting"] == 0 and health["dead_letters_total"] == 1

            # Offsets are committed right after each batch's transaction.
            await wait_for(drained, "the consumer groups to drain", timeout=60)
            health = await get("/v1/reports/health")
            assert health["dead_letters"][topics.IDENTITY_REJECTED] == 1
            assert health["lag_by_service"]["verification"] == 7  # nobody consumed the 7 submissions here
            assert health["kafka"] == "ok"
