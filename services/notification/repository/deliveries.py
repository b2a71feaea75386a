"""SQL of deliveries: insert, claim, the answers of a round, the operator's views. Never commits: callers own the
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from services.notification.domain.deliveries import Delivery, NewDelivery
from shared.db import Conn

WAKE_CHANNEL = "payung_notification"  # NOTIFY'd when deliveries become due, LISTEN'd by the dispatch job


def delivery_of(row: asyncpg.Record | Mapping[str, Any]) -> Delivery:
    values = dict(row)
    if "routes" in values:
        values["routes"] = tuple(values["routes"] or ())
    return Delivery(**values)


async def claim_outcomes(conn: Conn, claims: Sequence[tuple[uuid.UUID, str, uuid.UUID]]) -> set[uuid.UUID]:
    """Record (nomination, outcome, event id) as told; returns the event ids that told an outcome first (the
    others repeat one already told, in this batch or before)."""
    if not claims:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO outcomes_told (nomination_id, outcome, event_id)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[])
        ON CONFLICT DO NOTHING RETURNING event_id
        """,
        [c[0] for c in claims],
        [c[1] for c in claims],
        [c[2] for c in claims],
    )
    return {r["event_id"] for r in rows}


async def insert_deliveries(conn: Conn, rows: Sequence[NewDelivery]) -> list[Delivery]:
    """Insert new deliveries in one statement; those already there (a redelivered event) are skipped.

    Returns the inserted ones. Deliveries with a ``failure`` are inserted as failed, the others as pending and due.
    """
    if not rows:
        return []
    records = await conn.fetch(
        """
        INSERT INTO deliveries (id, event_id, nomination_id, person_key, purpose, recipient_role, channel, address,
                                template, template_version, body, status, next_attempt_at, last_error, routes,
                                desa_code, digest_day)
        SELECT v.id, v.event_id, v.nomination_id, v.person_key, v.purpose, v.recipient_role, v.channel, v.address,
               v.template, v.template_version, v.body,
               CASE WHEN v.failure IS NOT NULL THEN 'failed' WHEN v.held THEN 'held' ELSE 'pending' END,
               CASE WHEN v.failure IS NULL AND NOT v.held THEN now() END,
               v.failure, v.routes::jsonb, v.desa_code, v.digest_day
        FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                    $9::text[], $10::int[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bool[],
                    $16::date[])
             AS v(id, event_id, nomination_id, person_key, purpose, recipient_role, channel, address,
                  template, template_version, body, failure, routes, desa_code, held, digest_day)
        ON CONFLICT DO NOTHING
        RETURNING id, event_id, nomination_id, person_key, purpose, recipient_role, channel, address, body, attempts,
                  last_error
        """,
        *(list(column) for column in zip(*(_new_row(r) for r in rows), strict=True)),
    )
    return [delivery_of(r) for r in records]


def _new_row(r: NewDelivery) -> tuple[object, ...]:
    return (
        r.id, r.event_id, r.nomination_id, r.person_key, r.purpose, r.recipient_role, r.channel, r.address,
        r.template, r.template_version, r.body, r.failure, orjson.dumps(r.routes).decode(), r.desa_code,
        r.held, r.digest_day,
    )  # fmt: skip


async def wake_dispatcher(conn: Conn) -> None:
    """Tell listening dispatchers (on commit) that deliveries are due."""
    await conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)


async def claim_due(conn: Conn, limit: int, lease_s: float) -> list[Delivery]:
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
                  d.body, d.attempts, d.route_index, d.routes, d.desa_code, d.digest_day
        """,
        limit,
        lease_s,
    )
    return [delivery_of(r) for r in records]


# The updates below apply only to the claim they answer (same attempt, still sending): if a claim expired and
# another dispatcher took the delivery over, the stale answer changes nothing and emits no event.


async def mark_sent(conn: Conn, sent: Sequence[tuple[uuid.UUID, int, str | None]]) -> list[Delivery]:
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
                  d.body, d.attempts, d.provider_message_id, d.desa_code, d.digest_day
        """,
        ids,
        attempts,
        provider_ids,
    )
    return [delivery_of(r) for r in records]


async def mark_failed(conn: Conn, failed: Sequence[tuple[uuid.UUID, int, str]]) -> list[Delivery]:
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
                  d.body, d.attempts, d.last_error, d.desa_code, d.digest_day
        """,
        ids,
        attempts,
        causes,
    )
    return [delivery_of(r) for r in records]


async def reschedule(conn: Conn, retries: Sequence[tuple[uuid.UUID, int, float, str]]) -> None:
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


async def fall_back(conn: Conn, moves: Sequence[tuple[uuid.UUID, int, str]]) -> set[uuid.UUID]:
    """``(id, attempts, cause)``: a permanent failure on the current channel -> the next route, due now.

    Returns the ids that moved; those on their last route are left alone (the caller fails them).
    """
    if not moves:
        return set()
    ids, attempts, causes = (list(c) for c in zip(*moves, strict=True))
    records = await conn.fetch(
        """
        UPDATE deliveries d
        SET route_index = d.route_index + 1,
            channel = d.routes -> (d.route_index + 1) ->> 'channel',
            address = d.routes -> (d.route_index + 1) ->> 'address',
            body = d.routes -> (d.route_index + 1) ->> 'body',
            attempts = 0, status = 'pending', next_attempt_at = now(), last_error = v.cause
        FROM unnest($1::uuid[], $2::int[], $3::text[]) AS v(id, attempts, cause)
        WHERE d.id = v.id AND d.status = 'sending' AND d.attempts = v.attempts
          AND jsonb_array_length(d.routes) > d.route_index + 1
        RETURNING d.id
        """,
        ids,
        attempts,
        causes,
    )
    return {r["id"] for r in records}


async def defer(conn: Conn, deferrals: Sequence[tuple[uuid.UUID, int, datetime]]) -> None:
    """``(id, attempts, until)``: not sent now (quiet hours) -> pending until then; the claim is not counted."""
    if not deferrals:
        return
    ids, attempts, until = (list(c) for c in zip(*deferrals, strict=True))
    await conn.execute(
        """
        UPDATE deliveries d
        SET status = 'pending', next_attempt_at = v.until, attempts = d.attempts - 1
        FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS v(id, attempts, until)
        WHERE d.id = v.id AND d.status = 'sending' AND d.attempts = v.attempts
        """,
        ids,
        attempts,
        until,
    )


async def record_attempts(conn: Conn, rows: Sequence[tuple[uuid.UUID, str | None, int, str, str | None]]) -> None:
    """``(delivery id, channel, attempt, outcome, cause)`` for the history of a delivery."""
    if not rows:
        return
    await conn.executemany(
        "INSERT INTO delivery_attempts (delivery_id, channel, attempt, outcome, cause) VALUES ($1, $2, $3, $4, $5)",
        rows,
    )


async def list_deliveries(
    conn: Conn | asyncpg.Pool,
    *,
    nomination_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[asyncpg.Record]:
    """Deliveries by nomination and/or status (newest first when listing by status alone)."""
    return await conn.fetch(
        """
        SELECT id, nomination_id, purpose, recipient_role, channel, address, template, template_version, status,
               attempts, last_error, next_attempt_at, provider_message_id, created_at, sent_at, delivered_at,
               read_at, route_index,
               (SELECT coalesce(array_agg(r ->> 'channel'), '{}') FROM jsonb_array_elements(routes) AS r) AS channels
        FROM deliveries
        WHERE ($1::uuid IS NULL OR nomination_id = $1) AND ($2::text IS NULL OR status = $2)
        ORDER BY created_at DESC, id
        LIMIT $3
        """,
        nomination_id,
        status,
        limit,
    )


async def attempts_of(conn: Conn | asyncpg.Pool, delivery_ids: Sequence[uuid.UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT delivery_id, channel, attempt, outcome, cause, at FROM delivery_attempts"
        " WHERE delivery_id = ANY($1::uuid[]) ORDER BY id",
        list(delivery_ids),
    )


async def requeue_failed(conn: Conn, delivery_id: uuid.UUID) -> asyncpg.Record | None:
    """A failed delivery that has an address -> pending, due now, with a fresh set of attempts.

    Returns the delivery's status and address as found (``None``: no such delivery); it was requeued only if it
    was failed and has an address.
    """
    row = await conn.fetchrow(
        "SELECT status, address IS NOT NULL AS has_address FROM deliveries WHERE id = $1 FOR UPDATE", delivery_id
    )
    if row is not None and row["status"] == "failed" and row["has_address"]:
        # From the first route again: the operator fixed whatever made the channels fail.
        await conn.execute(
            """
            UPDATE deliveries
            SET status = 'pending', attempts = 0, next_attempt_at = now(), route_index = 0,
                channel = coalesce(routes -> 0 ->> 'channel', channel),
                address = coalesce(routes -> 0 ->> 'address', address),
                body = coalesce(routes -> 0 ->> 'body', body)
            WHERE id = $1
            """,
            delivery_id,
        )
    return row
