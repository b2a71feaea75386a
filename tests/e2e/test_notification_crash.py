"""SIGKILL the notification service in the middle of a batch, restart it: nothing is sent twice, nothing is lost.

The real service process (started and killed through deploy/native/stack.py, like ``./payung up``) consumes
EnrolmentConfirmed events from Kafka and sends SMS through a gateway served here on 127.0.0.1, which counts the
requests per ``Idempotency-Key``. The only duplicates allowed are the documented in-flight edge: messages the gateway
accepted in the round that was running when the process died (at most one claimed batch). Each of those carries the
same ``Idempotency-Key`` as its first send, so a gateway that deduplicates drops them: the test checks that the keys
of the duplicates are exactly delivery ids already seen, i.e. the gateway *could* drop them.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from deploy.native import stack
from deploy.native.config import StackTestConfig
from shared.contracts import EnrolmentConfirmed, Nominator, decode, encode, new_envelope
from shared.topics import ENROLMENT_CONFIRMED, NOTIFICATION_SENT, all_topics, ensure_topics
from tests.e2e.pipeline import free_port, wait_for
from tests.infra import Infra, unique_prefix

pytestmark = pytest.mark.e2e

EVENTS = 120
BATCH = 20  # deliveries claimed per round: the bound of the in-flight edge
DESA = "64.08.01.2001"


class CountingGateway:
    """An SMS gateway that accepts everything a little slowly and counts requests per Idempotency-Key.

    When the ``kill_at``-th request arrives it first kills the service (``on_kill``), then answers: that message
    and the others in flight were accepted by the gateway while their sender died before recording it.
    """

    def __init__(self, kill_at: int) -> None:
        self.by_key: Counter[str] = Counter()
        self.kill_at = kill_at
        self.on_kill: Callable[[], None] | None = None
        self.killed = asyncio.Event()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/sms")
        async def send(request: Request) -> JSONResponse:
            key = request.headers["idempotency-key"]
            self.by_key[key] += 1
            if sum(self.by_key.values()) == self.kill_at and self.on_kill is not None:
                await asyncio.to_thread(self.on_kill)  # SIGKILL mid-batch, with this call in flight
                self.killed.set()
            await asyncio.sleep(0.02)  # a real gateway's latency
            return JSONResponse({"id": f"gw-{key}-{self.by_key[key]}"})

        return app


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[CountingGateway, str]]:
    gw = CountingGateway(kill_at=EVENTS // 3 + 3)  # the 3rd call of a round: mid-batch
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(gw.app(), lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.01)
    yield gw, f"http://127.0.0.1:{sock.getsockname()[1]}/v1/sms"
    server.should_exit = True
    await task
    sock.close()


async def sent_events(bootstrap: str, prefix: str) -> list[str]:
    """The delivery ids of every NotificationSent currently on the topic (all partitions, from the beginning)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        (spec,) = [t for t in all_topics(prefix) if t.name == prefix + NOTIFICATION_SENT]  # partitions as declared
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        found: list[str] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found += [str(decode(r.value).payload.delivery_id) for r in records]  # type: ignore[attr-defined]
        return found
    finally:
        await consumer.stop()


def enrolment(index: int) -> bytes:
    payload = EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number=f"{index:011d}", funding_source="APBD-KAB",
        funding_source_name="APBD Kab. Kutai Timur", programme_year=2026, coverage_start=date(2026, 12, 1),
        full_name="Siti", phone=f"0812{index:08d}", desa_code=DESA,
        nominator=Nominator(type="rt", name="RT", region_code=DESA),
    )  # fmt: skip
    envelope = new_envelope(
        payload, producer="enrolment", person_key=uuid.uuid4().hex, correlation_id=payload.nomination_id
    )
    return encode(envelope)


async def test_sigkill_mid_batch_sends_nothing_twice_and_loses_nothing(
    infra: Infra,
    create_database: Callable[[str], Awaitable[str]],
    gateway: tuple[CountingGateway, str],
    tmp_path: Path,
) -> None:
    gw, url = gateway
    prefix = unique_prefix("e2enotif")
    cfg = StackTestConfig(stack_dir=tmp_path, topic_prefix=prefix, notification_port=free_port())
    dsn = await create_database("e2e_notification")
    gw.on_kill = lambda: stack.kill_service(cfg, "notification")
    env = {
        "PAYUNG_DATABASE_URL": dsn, "PAYUNG_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "PAYUNG_TOPIC_PREFIX": prefix,
        "PAYUNG_SMS_GATEWAY_URL": url, "PAYUNG_SMS_GATEWAY_TOKEN": "e2e", "PAYUNG_BENEFICIARY_CHANNEL": "sms_http",
        "PAYUNG_QUIET_HOURS_CHANNELS": "", "PAYUNG_SMS_RATE_PER_S": "0",  # whatever the time of day of the run
        # one delivery per confirmation: the how-to-claim message beside each is not this test's subject
        "PAYUNG_CLAIM_REMINDERS_ENABLED": "false",
        "PAYUNG_DISPATCH_BATCH_SIZE": str(BATCH), "PAYUNG_DISPATCH_CONCURRENCY": "5",
        # A short lease, so the deliveries the killed process held are claimed again soon (must exceed
        # ceil(batch / concurrency) x the longest channel timeout, checked by the settings).
        "PAYUNG_SMS_TIMEOUT_S": "1", "PAYUNG_SMTP_TIMEOUT_S": "1", "PAYUNG_WHATSAPP_TIMEOUT_S": "1",
        "PAYUNG_SENDING_LEASE_S": "5", "PAYUNG_OUTBOX_POLL_INTERVAL_S": "0.5", "PAYUNG_SHUTDOWN_GRACE_S": "5",
    }  # fmt: skip
    await ensure_topics(infra.kafka_bootstrap, prefix)
    db = await asyncpg.connect(dsn)
    try:
        stack.start_service(cfg, "notification", env)
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            signer, topic = stack.event_signers(cfg)["enrolment"], prefix + ENROLMENT_CONFIRMED
            for i in range(EVENTS):
                value = enrolment(i)
                signature = [(k, v.encode()) for k, v in signer.headers(topic, value)]
                await producer.send(topic, value, key=uuid.uuid4().hex.encode(), headers=signature)
            await producer.flush()
        finally:
            await producer.stop()

        async def killed() -> bool:
            return gw.killed.is_set()

        await wait_for(killed, "a third of the messages to reach the gateway, and the kill", timeout=90)
        assert sum(gw.by_key.values()) < EVENTS, "the kill came too late to land mid-stream"
        await asyncio.to_thread(stack.start_service, cfg, "notification", env)

        async def all_sent() -> bool:
            return await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sent'") == EVENTS

        await wait_for(all_sent, f"all {EVENTS} deliveries to be sent", timeout=120)
        ids = {str(r["id"]) for r in await db.fetch("SELECT id FROM deliveries")}

        async def all_reported() -> list[str] | None:
            reported = await sent_events(infra.kafka_bootstrap, prefix)
            return reported if set(reported) == ids else None

        reported = await wait_for(all_reported, "a NotificationSent for every delivery", timeout=60)
    finally:
        stack.stop_services(cfg)
        await db.close()

    # Nothing lost: one delivery per event, every one reached the gateway, every one reported sent.
    assert len(ids) == EVENTS and set(gw.by_key) == ids
    # Every outcome an event; a repeat is possible only from the relay's own at-least-once (consumers dedupe by id).
    assert Counter(reported).keys() == ids
    # Nothing twice, except the in-flight edge: at most one claimed round, each resend under the same key.
    twice = {key: n for key, n in gw.by_key.items() if n > 1}
    assert all(n == 2 for n in twice.values()), twice
    # The call in flight at the kill was accepted but never recorded: it IS sent again, under the same key.
    assert 1 <= len(twice) <= BATCH, f"{len(twice)} messages sent twice; at most one round ({BATCH}) was in flight"
    assert set(twice) <= ids  # each resend carried its delivery id as Idempotency-Key: droppable by the gateway
    print(f"gateway requests {sum(gw.by_key.values())} for {EVENTS} deliveries; resent in flight: {len(twice)}")
