"""The notification service against a real PostgreSQL: batches in, deliveries, the dispatcher, the HTTP API.

Batches go through ``shared.consumer.Consumer.process`` with hand-built Kafka records, exactly as the subscriber
runs them; messages go out on the local channel (a real file) so every step is observable.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI

from services.notification import api
from services.notification.adapters.registry import open_channels
from services.notification.app import SPEC
from services.notification.bootstrap import Deps, jobs
from services.notification.domain.deliveries import Delivery
from services.notification.domain.dispatch import DispatchPolicy
from services.notification.domain.routes import ChannelPolicy
from services.notification.handlers.dispatch import dispatch_once
from services.notification.repository import deliveries as repository
from services.notification.settings import NotificationSettings
from shared import db, topology
from shared.consumer import Consumer
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    Envelope,
    IdentityRejected,
    Nominator,
    Payload,
    Reason,
    decode,
    encode,
    new_envelope,
)
from shared.service import Runtime
from tests import signed
from tests.notification_deps import bound, deps_for, handle
from tests.operator import authenticate_operator

pytestmark = pytest.mark.integration

DESA = "64.08.01.2001"
PREFIX = "t."


@pytest.fixture
async def dsn(create_database: Callable[[str], Awaitable[str]]) -> str:
    url = await create_database("notification")
    await asyncio.to_thread(db.migrate, url, SPEC.migrations)
    return url


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, 1, 5)
    yield pool
    await pool.close()


@pytest.fixture
def settings(dsn: str, tmp_path: Path) -> NotificationSettings:
    return NotificationSettings(
        database_url=dsn,
        kafka_bootstrap="127.0.0.1:1",
        topic_prefix=PREFIX,
        local_outbox_file=tmp_path / "messages.jsonl",
    )


def nominator(phone: str | None = "081298765432", email: str | None = None) -> Nominator:
    return Nominator(type="rt", name="Pak RT", region_code=DESA, phone=phone, email=email)


def confirmed(phone: str = "081234567890") -> EnrolmentConfirmed:
    return EnrolmentConfirmed(
        nomination_id=uuid.uuid4(), membership_number="12345678901", funding_source="APBD Kab. Kutai Timur",
        funding_source_name="APBD Kab. Kutai Timur",
        programme_year=2026, coverage_start=date(2026, 12, 1), full_name="Siti", phone=phone, desa_code=DESA,
        nominator=nominator(),
    )  # fmt: skip


def waitlisted() -> EnrolmentWaitlisted:
    return EnrolmentWaitlisted(
        nomination_id=uuid.uuid4(), programme_year=2026, position=12, full_name="Siti", phone="081234567891",
        desa_code=DESA, nominator=nominator(),
    )  # fmt: skip


def rejected(contact: Nominator) -> IdentityRejected:
    return IdentityRejected(
        nomination_id=uuid.uuid4(), reasons=(Reason(code="NAME_MISMATCH", detail="score 41"),),
        full_name="Siti Aminah", nominator=contact,
        desa_code=DESA,
    )  # fmt: skip


def envelope(payload: Payload) -> Envelope[Any]:
    key = uuid.uuid4().hex
    return new_envelope(
        payload, producer=topology.owner(payload.topic), person_key=key, correlation_id=payload.nomination_id
    )  # type: ignore[attr-defined]


def records(topic: str, envelopes: list[Envelope[Any]]) -> list[ConsumerRecord[Any, Any]]:
    out = []
    for offset, env in enumerate(envelopes):
        value = encode(env)
        out.append(
            ConsumerRecord(
                topic=topic,
                partition=0,
                offset=offset,
                timestamp=0,
                timestamp_type=0,
                key=env.person_key.encode(),
                value=value,
                checksum=None,
                serialized_key_size=32,
                serialized_value_size=len(value),
                headers=signed.headers(topic, value),
            )
        )
    return out


def consumer(pool: asyncpg.Pool, payload: type[Payload], policy: ChannelPolicy = ChannelPolicy()) -> Consumer[Any]:
    handler = bound(deps_for(pool, policy=policy))
    return Consumer(name=f"notification.{payload.topic}", topic=PREFIX + payload.topic, payload=payload,
                    handler=handler, pool=pool, topic_prefix=PREFIX)  # fmt: skip


async def outbox_events(pool: asyncpg.Pool) -> list[tuple[str, Envelope[Any]]]:
    rows = await pool.fetch("SELECT topic, key, value FROM outbox WHERE event_type <> 'DeadLetter' ORDER BY id")
    events = []
    for row in rows:
        env = decode(row["value"])
        assert row["key"] == env.person_key.encode()
        events.append((row["topic"], env))
    return events


async def deliveries(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM deliveries ORDER BY created_at, id")


# --- handler ---------------------------------------------------------------------------------------------------------


async def test_the_same_batch_twice_gives_one_delivery_per_event_recipient_and_purpose(pool: asyncpg.Pool) -> None:
    enrolled = [envelope(confirmed()), envelope(confirmed()), envelope(confirmed(phone="0812"))]
    refused = [envelope(rejected(nominator())), envelope(rejected(nominator(phone=None)))]
    confirmed_consumer, rejected_consumer = consumer(pool, EnrolmentConfirmed), consumer(pool, IdentityRejected)
    for _ in range(2):
        await confirmed_consumer.process(records(PREFIX + "enrolment.confirmed", enrolled))
        await rejected_consumer.process(records(PREFIX + "identity.rejected", refused))

    rows = await deliveries(pool)
    assert len(rows) == 6  # the bad phone's nominator is told too
    assert confirmed_consumer.stats.duplicates == 3 and rejected_consumer.stats.duplicates == 2
    by_event = {
        r["event_id"]: r for r in rows if r["recipient_role"] == "beneficiary" or r["purpose"] != "enrolment_confirmed"
    }
    [note] = [r for r in rows if r["recipient_role"] == "nominator" and r["purpose"] == "enrolment_confirmed"]
    assert (note["event_id"], note["template"], note["status"]) == (enrolled[2].event_id, "contact_invalid", "pending")
    assert "tidak dapat dipakai" in note["body"]
    good = by_event[enrolled[0].event_id]
    assert (good["status"], good["recipient_role"], good["purpose"]) == (
        "pending",
        "beneficiary",
        "enrolment_confirmed",
    )
    assert (good["channel"], good["address"], good["attempts"]) == ("local", "+6281234567890", 0)
    assert good["nomination_id"] == enrolled[0].payload.nomination_id and good["person_key"] == enrolled[0].person_key
    assert "1 Desember 2026" in good["body"] and good["template_version"] == 1
    bad_phone = by_event[enrolled[2].event_id]
    assert (bad_phone["status"], bad_phone["last_error"], bad_phone["address"]) == (
        "failed",
        "invalid phone number",
        None,
    )
    no_contact = by_event[refused[1].event_id]
    assert (no_contact["status"], no_contact["last_error"], no_contact["channel"]) == ("failed", "no contact", None)

    # Undeliverable messages are reported once, with the event that caused them.
    events = await outbox_events(pool)
    assert sorted(e.payload.reason for _, e in events) == ["invalid phone number", "no contact"]
    for topic, env in events:
        cause = next(e for e in enrolled + refused if e.event_id == env.causation_id)
        assert topic == PREFIX + "notification.failed" and env.event_type == "NotificationFailed"
        assert (env.producer, env.person_key, env.correlation_id) == (
            "notification",
            cause.person_key,
            cause.payload.nomination_id,
        )
        assert env.payload.delivery_id == by_event[cause.event_id]["id"]


async def test_a_bpjs_refusal_becomes_one_message_to_the_nominator_with_the_reason(pool: asyncpg.Pool) -> None:
    refusal = EnrolmentRefused(
        nomination_id=uuid.uuid4(), programme_year=2026, refusal_code="PU_ACTIVE",
        refusal_reason="Sudah terdaftar sebagai peserta Penerima Upah", full_name="Siti Aminah",
        desa_code=DESA, nominator=nominator(),
    )  # fmt: skip
    event = envelope(refusal)
    for _ in range(2):  # a redelivery adds nothing
        await consumer(pool, EnrolmentRefused).process(records(PREFIX + "enrolment.refused", [event]))
    [row] = await deliveries(pool)
    assert (row["purpose"], row["recipient_role"], row["nomination_id"]) == (
        "enrolment_refused", "nominator", refusal.nomination_id)  # fmt: skip
    assert "Sudah terdaftar sebagai peserta Penerima Upah" in row["body"]


async def test_a_replay_past_the_inbox_still_adds_nothing(pool: asyncpg.Pool) -> None:
    """The unique key holds even when the inbox does not filter (e.g. a replay after inbox rows were pruned)."""
    batch = [envelope(waitlisted()), envelope(rejected(nominator(phone=None)))]
    deps = deps_for(pool)
    for _ in range(2):
        async with pool.acquire() as conn, conn.transaction():
            await handle(deps, conn, batch)
    assert len(await deliveries(pool)) == 2
    assert len(await outbox_events(pool)) == 1


# --- dispatcher on the local channel --------------------------------------------------------------------------------


def dispatcher(pool: asyncpg.Pool, settings: NotificationSettings, channels: Any, **config: Any) -> Deps:
    return deps_for(pool, settings, channels=channels, dispatch=DispatchPolicy(**config))


async def test_dispatcher_sends_pending_deliveries_and_reports_them(
    pool: asyncpg.Pool, settings: NotificationSettings
) -> None:
    events = [envelope(confirmed()), envelope(waitlisted()), envelope(rejected(nominator(email="rt@desa.id")))]
    async with pool.acquire() as conn, conn.transaction():
        await handle(deps_for(pool), conn, events)

    async with open_channels(settings) as channels:
        assert await dispatch_once(dispatcher(pool, settings, channels)) == 3

    lines = [orjson.loads(line) for line in settings.local_outbox_file.read_text().splitlines()]
    rows = {r["id"]: r for r in await deliveries(pool)}
    assert {line["delivery_id"] for line in lines} == {str(i) for i in rows}
    assert {line["to"] for line in lines} == {"+6281234567890", "+6281234567891", "+6281298765432"}
    for line in lines:
        row = rows[uuid.UUID(line["delivery_id"])]
        assert line["text"] == row["body"] and line["subject"]
        assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)
        assert row["sent_at"] is not None and row["next_attempt_at"] is None

    sent = await outbox_events(pool)
    assert [t for t, _ in sent] == [PREFIX + "notification.sent"] * 3
    by_delivery = {e.payload.delivery_id: e for _, e in sent}
    for event in events:
        row = next(r for r in rows.values() if r["event_id"] == event.event_id)
        out = by_delivery[row["id"]]
        assert (out.payload.purpose, out.payload.recipient_role, out.payload.channel) == (
            row["purpose"], row["recipient_role"], "local"
        )  # fmt: skip
        assert (out.causation_id, out.correlation_id, out.person_key) == (
            event.event_id, event.payload.nomination_id, event.person_key
        )  # fmt: skip


async def test_a_notify_wakes_the_running_dispatcher(pool: asyncpg.Pool, settings: NotificationSettings) -> None:
    async with open_channels(settings) as channels:
        # A poll interval far beyond the wait below: only the NOTIFY can explain a quick send.
        slow = settings.model_copy(update={"dispatch_poll_interval_s": 300})
        deps = dispatcher(pool, slow, channels)
        [job] = [j for j in jobs(deps) if j.name == "dispatcher"]
        running = asyncio.create_task(job.run())
        try:
            await wait_for(lambda: listening(pool))
            env = envelope(confirmed())
            await consumer(pool, EnrolmentConfirmed).process(records(PREFIX + "enrolment.confirmed", [env]))
            await wait_for(lambda: status_of(pool, env.event_id), expected="sent", within_s=10)
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            await deps.listener.close()


async def test_claims_are_exclusive_and_a_stale_answer_changes_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await handle(deps_for(pool), conn, [envelope(confirmed()) for _ in range(40)])

    async def claim() -> list[Delivery]:
        async with pool.acquire() as conn:
            return await repository.claim_due(conn, 25, lease_s=60)

    first, second = await asyncio.gather(claim(), claim())
    assert not {d.id for d in first} & {d.id for d in second}
    assert len(first) + len(second) == 40

    # The claim expires (its dispatcher died mid-call): the delivery is claimed again, and the old claim's
    # answer, should it still come, no longer counts.
    stale = first[0]
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1", stale.id)
    async with pool.acquire() as conn:
        again = [d for d in await repository.claim_due(conn, 100, lease_s=60) if d.id == stale.id]
        assert again and again[0].attempts == stale.attempts + 1
        async with conn.transaction():
            assert await repository.mark_sent(conn, [(stale.id, stale.attempts, None)]) == []
            assert [d.id for d in await repository.mark_sent(conn, [(stale.id, again[0].attempts, "p-1")])] == [
                stale.id
            ]


# --- HTTP API -------------------------------------------------------------------------------------------------------


@pytest.fixture
async def client(pool: asyncpg.Pool, settings: NotificationSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(api.router)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=None, broker=None, deps=deps_for(pool, settings))  # type: ignore[arg-type]
    headers = authenticate_operator(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notification", headers=headers) as c:
        yield c


async def test_api_lists_deliveries_of_a_nomination_with_masked_addresses(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    env = envelope(confirmed())
    await consumer(pool, EnrolmentConfirmed).process(records(PREFIX + "enrolment.confirmed", [env]))
    await consumer(pool, EnrolmentConfirmed).process(records(PREFIX + "enrolment.confirmed", [envelope(confirmed())]))

    answer = await client.get("/v1/deliveries", params={"nomination_id": str(env.payload.nomination_id)})
    assert answer.status_code == 200
    [shown] = answer.json()["deliveries"]
    assert (shown["status"], shown["channel"], shown["attempts"], shown["last_error"]) == ("pending", "local", 0, None)
    assert shown["address"] == "+62812****890"
    assert "body" not in shown and "081234567890" not in answer.text and "+6281234567890" not in answer.text
    assert (await client.get("/v1/deliveries", params={"nomination_id": "nope"})).status_code == 422


async def test_api_retry_puts_a_failed_delivery_back_in_the_queue(
    pool: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    sendable, hopeless = envelope(confirmed()), envelope(rejected(nominator(phone=None)))
    await consumer(pool, EnrolmentConfirmed).process(records(PREFIX + "enrolment.confirmed", [sendable]))
    await consumer(pool, IdentityRejected).process(records(PREFIX + "identity.rejected", [hopeless]))
    row = await pool.fetchrow("SELECT id FROM deliveries WHERE event_id = $1", sendable.event_id)
    delivery_id = row["id"]

    assert (await client.post(f"/v1/deliveries/{delivery_id}/retry")).status_code == 409  # pending, not failed
    await pool.execute(
        "UPDATE deliveries SET status = 'failed', attempts = 8, next_attempt_at = NULL, "
        "last_error = 'gateway answered 503' WHERE id = $1",
        delivery_id,
    )
    answer = await client.post(f"/v1/deliveries/{delivery_id}/retry")
    assert answer.status_code == 202 and answer.json()["status"] == "pending"
    after = await pool.fetchrow("SELECT status, attempts, next_attempt_at FROM deliveries WHERE id = $1", delivery_id)
    assert (after["status"], after["attempts"]) == ("pending", 0) and after["next_attempt_at"] is not None

    no_address = await pool.fetchval("SELECT id FROM deliveries WHERE event_id = $1", hopeless.event_id)
    answer = await client.post(f"/v1/deliveries/{no_address}/retry")
    assert answer.status_code == 409 and "no address" in answer.json()["detail"]
    assert (await client.post(f"/v1/deliveries/{uuid.uuid4()}/retry")).status_code == 404


# --- helpers --------------------------------------------------------------------------------------------------------


async def listening(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
    )


async def status_of(pool: asyncpg.Pool, event_id: uuid.UUID) -> str | None:
    return await pool.fetchval("SELECT status FROM deliveries WHERE event_id = $1", event_id)


async def wait_for(probe: Callable[[], Awaitable[Any]], expected: Any = True, within_s: float = 5.0) -> None:
    """Poll ``probe`` (a condition in the database, which cannot signal us) until it returns ``expected``."""
    async with asyncio.timeout(within_s):
        while (value := await probe()) != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert value == expected


async def test_an_outcome_said_again_under_a_new_event_id_is_told_once(pool: asyncpg.Pool) -> None:
    # A real confirmation republished under a new event id (an outbox replayed from a restored backup, a bug), in a
    # later batch and in the same batch: the inbox sees new events, the person gets one message.
    first = envelope(confirmed())
    again = first.model_copy(update={"event_id": uuid.uuid4()})
    twice = first.model_copy(update={"event_id": uuid.uuid4()})
    renewed = envelope(first.payload.model_copy(update={"programme_year": 2027}))  # another year: another outcome
    confirmed_consumer = consumer(pool, EnrolmentConfirmed)
    await confirmed_consumer.process(records(PREFIX + "enrolment.confirmed", [first]))
    await confirmed_consumer.process(records(PREFIX + "enrolment.confirmed", [again, twice, renewed]))

    told = [r for r in await deliveries(pool) if r["recipient_role"] == "beneficiary"]
    assert [r["event_id"] for r in told] == [first.event_id, renewed.event_id]
    assert confirmed_consumer.stats.processed == 4 and confirmed_consumer.stats.dead_lettered == 0
