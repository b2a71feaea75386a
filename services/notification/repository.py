"""SQL of the notification service. Never commits: callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

WAKE_CHANNEL = "payung_notification"  # NOTIFY'd when deliveries become due, LISTEN'd by the dispatcher


@dataclass(frozen=True)
class NewDelivery:
    id: uuid.UUID
    event_id: uuid.UUID
    nomination_id: uuid.UUID
    person_key: str
    purpose: str
    recipient_role: str
    channel: str | None
    address: str | None
    template: str
    template_version: int
    body: str
    failure: str | None  # set: the delivery is failed from the start (no usable address)


@dataclass(frozen=True)
class Delivery:
    """A delivery as the dispatcher and the outcome events need it."""

    id: uuid.UUID
    event_id: uuid.UUID
    nomination_id: uuid.UUID
    person_key: str
    purpose: str
    recipient_role: str
    channel: str | None
    address: str | None
    body: str
    attempts: int
    last_error: str | None = None


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(**dict(row))


async def insert_deliveries(conn: asyncpg.Connection, rows: Sequence[NewDelivery]) -> list[Delivery]:
    """Insert new deliveries in one statement; those already there (a redelivered event) are skipped.

    Returns the inserted ones. Deliveries with a ``failure`` are inserted as failed, the others as pending and due.
    """
    if not rows:
        return []
    records = await conn.fetch(
        """
        INSERT INTO deliveries (id, event_id, nomination_id, person_key, purpose, recipient_role, channel, address,
                                template, template_version, body, status, next_attempt_at, last_error)
        SELECT v.id, v.event_id, v.nomination_id, v.person_key, v.purpose, v.recipient_role, v.channel, v.address,
               v.template, v.template_version, v.body,
               CASE WHEN v.failure IS NULL THEN 'pending' ELSE 'failed' END,
               CASE WHEN v.failure IS NULL THEN now() END,
               v.failure
        FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                    $9::text[], $10::int[], $11::text[], $12::text[])
             AS v(id, event_id, nomination_id, person_key, purpose, recipient_role, channel, address,
                  template, template_version, body, failure)
        ON CONFLICT DO NOTHING
        RETURNING id, event_id, nomination_id, person_key, purpose, recipient_role, channel, address, body, attempts,
                  last_error
        """,
        *(list(column) for column in zip(*(_new_row(r) for r in rows), strict=True)),
    )
    return [_delivery(r) for r in records]


def _new_row(r: NewDelivery) -> tuple[object, ...]:
    return (
        r.id, r.event_id, r.nomination_id, r.person_key, r.purpose, r.recipient_role, r.channel, r.address,
        r.template, r.template_version, r.body, r.failure,
    )  # fmt: skip


async def wake_dispatcher(conn: asyncpg.Connection) -> None:
    """Tell listening dispatchers (on commit) that deliveries are due."""
    await conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)


async def claim_due(conn: asyncpg.Connection, limit: int, lease_s: float) -> list[Delivery]:
    """Claim up to ``limit`` due deliveries for sending (one statement, so it commits on its own).

    Claiming counts an attempt and sets the claim's expiry: a delivery whose dispatcher died mid-call becomes due
    again when it passes. ``SKIP LOCKED`` lets several dispatchers claim side by side without waiting on each other.
    """
    records = await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM deliveries
            WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE deliveries d
        SET status = 'sending', attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.event_id, d.nomination_id, d.person_key, d.purpose, d.recipient_role, d.channel, d.address,
                  d.body, d.attempts
        """,
        limit,
        lease_s,
    )
    return [_delivery(r) for r in records]


# The updates below apply only to the claim they answer (same attempt, still sending): if a claim expired and
# another dispatcher took the delivery over, the stale answer changes nothing and emits no event.


async def mark_sent(conn: asyncpg.Connection, sent: Sequence[tuple[uuid.UUID, int, str | None]]) -> list[Delivery]:
    """``(id, attempts, provider_message_id)`` -> sent. Returns the deliveries that changed."""
    if not sent:
        return []
    ids, attempts, provider_ids = (list(c) for c in zip(*sent, strict=True))
    records = await conn.fetch(
        """
        UPDATE deliveries d
        SET status = 'sent', sent_at = now(), next_attempt_at = NULL, last_error = NULL,
            provider_message_id = v.provider_message_id
        FROM unnest($1::uuid[], $2::int[], $3::text[]) AS v(id, attempts, provider_message_id)
        WHERE d.id = v.id AND d.status = 'sending' AND d.attempts = v.attempts
        RETURNING d.id, d.event_id, d.nomination_id, d.person_key, d.purpose, d.recipient_role, d.channel, d.address,
                  d.body, d.attempts
        """,
        ids,
        attempts,
        provider_ids,
    )
    return [_delivery(r) for r in records]


async def mark_failed(conn: asyncpg.Connection, failed: Sequence[tuple[uuid.UUID, int, str]]) -> list[Delivery]:
    """``(id, attempts, cause)`` -> failed. Returns the deliveries that changed."""
    if not failed:
        return []
    ids, attempts, causes = (list(c) for c in zip(*failed, strict=True))
    records = await conn.fetch(
        """
        UPDATE deliveries d
        SET status = 'failed', next_attempt_at = NULL, last_error = v.cause
        FROM unnest($1::uuid[], $2::int[], $3::text[]) AS v(id, attempts, cause)
        WHERE d.id = v.id AND d.status = 'sending' AND d.attempts = v.attempts
        RETURNING d.id, d.event_id, d.nomination_id, d.person_key, d.purpose, d.recipient_role, d.channel, d.address,
                  d.body, d.attempts, d.last_error
        """,
        ids,
        attempts,
        causes,
    )
    return [_delivery(r) for r in records]


async def reschedule(conn: asyncpg.Connection, retries: Sequence[tuple[uuid.UUID, int, float, str]]) -> None:
    """``(id, attempts, delay_s, cause)`` -> pending again, due after the delay."""
    if not retries:
        return
    ids, attempts, delays, causes = (list(c) for c in zip(*retries, strict=True))
    await conn.execute(
        """
        UPDATE deliveries d
        SET status = 'pending', next_attempt_at = now() + make_interval(secs => v.delay_s), last_error = v.cause
        FROM unnest($1::uuid[], $2::int[], $3::float8[], $4::text[]) AS v(id, attempts, delay_s, cause)
        WHERE d.id = v.id AND d.status = 'sending' AND d.attempts = v.attempts
        """,
        ids,
        attempts,
        delays,
        causes,
    )


async def list_for_nomination(
    conn: asyncpg.Connection | asyncpg.Pool, nomination_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id, purpose, recipient_role, channel, address, template, template_version, status, attempts,
               last_error, next_attempt_at, provider_message_id, created_at, sent_at
        FROM deliveries WHERE nomination_id = $1 ORDER BY created_at, id
        """,
        nomination_id,
    )


async def requeue_failed(conn: asyncpg.Connection, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    """A failed delivery that has an address -> pending, due now, with a fresh set of attempts.

    Returns the delivery's status and address as found (``None``: no such delivery); it was requeued only if it
    was failed and has an address.
    """
    row = await conn.fetchrow(
        "SELECT status, address IS NOT NULL AS has_address FROM deliveries WHERE id = $1 FOR UPDATE", delivery_id
    )
    if row is not None and row["status"] == "failed" and row["has_address"]:
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE id = $1",
            delivery_id,
        )
    return row
