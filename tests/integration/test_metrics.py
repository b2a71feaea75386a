"""Prometheus metrics after a real consumer batch on PostgreSQL, exposed on a service's ``/metrics``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from services.nomination.app import SPEC, create
from services.nomination.settings import NominationSettings
from shared import db, outbox
from shared.consumer import Consumer
from shared.contracts import Envelope, IdentityVerified, encode
from shared.service import Runtime
from tests.records import record, verified

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_batch_shows_up_in_the_metrics(create_database: Any) -> None:
    dsn = await create_database("metrics")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    pool = await db.create_pool(dsn, 1, 3)
    name, topic = f"metrics-test-{uuid.uuid4().hex[:8]}", "m.identity.verified"
    good, failing = verified(), verified()

    async def handler(_conn: asyncpg.Connection, events: Sequence[Envelope[IdentityVerified]]) -> None:
        if any(e.event_id == failing.event_id for e in events):
            raise ValueError("this one can never succeed")

    consumer = Consumer(name=name, topic=topic, payload=IdentityVerified, handler=handler, pool=pool)
    try:
        batch = [
            record(topic, 0, encode(good)),
            record(topic, 1, encode(good)),  # the same event again: an inbox no-op
            record(topic, 2, b"{not json"),
            record(topic, 3, encode(failing)),
        ]
        await consumer.process(batch)

        assert sample("payung_events_consumed_total", consumer=name, topic=topic, result="processed") == 1
        assert sample("payung_events_consumed_total", consumer=name, topic=topic, result="duplicate") == 1
        assert sample("payung_dead_letters_total", consumer=name, topic=topic) == 2
        assert sample("payung_handler_errors_total", consumer=name, kind="permanent", error_type="ValueError") == 1
        assert sample("payung_consumer_batch_seconds_count", consumer=name) == 1
        assert sample("payung_consumer_batch_events_sum", consumer=name) == 4

        settings = NominationSettings(
            database_url=dsn, kafka_bootstrap="unused:9092", person_key_secret="metrics-secret-0123456789"
        )
        app = create(settings)
        relay = outbox.OutboxRelay(dsn, producer=None)  # type: ignore[arg-type]  # never run: the rows stay
        app.state.runtime = Runtime(settings=settings, pool=pool, relay=relay, broker=None)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client:
            some_id = uuid.uuid4()
            await client.get(f"/v1/nominations/{some_id}")  # 401: counted by route template, not by id
            response = await client.get("/metrics")
        assert response.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(response.text)}
        assert families["payung_outbox_backlog"].samples[0].value == 2  # the two dead letters, not yet published
        consumed = {
            s.labels["result"]: s.value
            for s in families["payung_events_consumed"].samples
            if s.labels.get("consumer") == name and s.name.endswith("_total")
        }
        assert consumed == {"processed": 1, "duplicate": 1}
        routes = {s.labels["route"] for s in families["payung_http_requests"].samples if "route" in s.labels}
        assert "/v1/nominations/{nomination_id}" in routes
        assert str(some_id) not in response.text  # ids are never labels
        assert "6408014501900001" not in response.text and "Rahmawati" not in response.text
    finally:
        await pool.close()
