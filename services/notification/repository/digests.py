"""SQL of the daily digests per desa. Never commits: callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from services.notification.domain.deliveries import Delivery
from services.notification.domain.digests import DigestItem
from services.notification.domain.routes import Route
from services.notification.domain.texts import DIGEST
from services.notification.repository.deliveries import delivery_of
from shared.db import Conn

_RETURNED = """d.id, d.event_id, d.nomination_id, d.person_key, d.purpose, d.recipient_role, d.channel, d.address,
               d.body, d.attempts, d.last_error"""


async def add_items(conn: Conn, items: Sequence[tuple[uuid.UUID, DigestItem, uuid.UUID | None]]) -> None:
    """``(event id, item, held delivery id)``; a redelivered event adds nothing (key: event id + kind)."""
    if not items:
        return
    await conn.executemany(
        """
        INSERT INTO digest_items (event_id, kind, desa_code, nomination_id, detail, held_delivery)
        VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING
        """,
        [(e, i.kind, i.desa_code, i.nomination_id, i.detail, h) for e, i, h in items],
    )


async def remember_officials(conn: Conn, officials: Sequence[tuple[str, list[Route]]]) -> None:
    """The desa's officials and their channel order, as last seen on a nomination of theirs."""
    rows = {
        (desa, routes[0].address): [{"channel": r.channel, "address": r.address} for r in routes]
        for desa, routes in officials
        if routes
    }
    if not rows:
        return
    await conn.executemany(
        """
        INSERT INTO desa_contacts (desa_code, contact, routes) VALUES ($1, $2, $3)
        ON CONFLICT (desa_code, contact) DO UPDATE SET routes = excluded.routes, seen_at = now()
        """,
        [(desa, contact, routes) for (desa, contact), routes in sorted(rows.items())],
    )


async def desas_with_news(conn: Conn | asyncpg.Pool) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT desa_code FROM digest_items WHERE digest_day IS NULL ORDER BY 1")
    return [r["desa_code"] for r in rows]


async def take(conn: Conn, desa_code: str, day: date) -> list[dict[str, Any]] | None:
    """Make the (desa, day) digest and take the desa's open items into it, or None when it already exists.

    The ``digests`` primary key is the exactly-once guard: of two replicas (or a rerun after a crash), only the one
    whose INSERT went through takes the items, in the same transaction.
    """
    made = await conn.fetchval(
        "INSERT INTO digests (desa_code, day, items, recipients) VALUES ($1, $2, 0, 0)"
        " ON CONFLICT DO NOTHING RETURNING true",
        desa_code,
        day,
    )
    if not made:
        return None
    rows = await conn.fetch(
        """
        UPDATE digest_items SET digest_day = $2 WHERE desa_code = $1 AND digest_day IS NULL
        RETURNING kind, detail, created_at
        """,
        desa_code,
        day,
    )
    return [{"kind": r["kind"], "detail": r["detail"]} for r in sorted(rows, key=lambda r: r["created_at"])]


async def officials(conn: Conn, desa_code: str) -> list[list[dict[str, str]]]:
    rows = await conn.fetch("SELECT routes FROM desa_contacts WHERE desa_code = $1 ORDER BY contact", desa_code)
    return [list(r["routes"]) for r in rows]


async def record_digest(conn: Conn, desa_code: str, day: date, items: int, recipients: int) -> None:
    await conn.execute(
        "UPDATE digests SET items = $3, recipients = $4 WHERE desa_code = $1 AND day = $2",
        desa_code,
        day,
        items,
        recipients,
    )


async def resolve_held(conn: Conn, digests: Sequence[Delivery]) -> list[Delivery]:
    """Held per-person messages of these sent digests -> sent on the digest's channel (their events are due)."""
    rows = [(d.desa_code, d.digest_day, d.channel) for d in digests if d.purpose == DIGEST and d.digest_day]
    resolved: list[Delivery] = []
    for desa_code, day, channel in rows:
        records = await conn.fetch(
            f"""
            UPDATE deliveries d SET status = 'sent', channel = $3, sent_at = now()
            FROM digest_items i
            WHERE i.desa_code = $1 AND i.digest_day = $2 AND d.id = i.held_delivery AND d.status = 'held'
            RETURNING {_RETURNED}
            """,  # noqa: S608 - a constant column list
            desa_code,
            day,
            channel,
        )
        resolved += [delivery_of(r) for r in records]
    return resolved


async def fail_held(conn: Conn, desa_code: str, day: date, cause: str) -> list[Delivery]:
    """Held messages of a (desa, day) digest that no official can receive any more -> failed with ``cause``."""
    records = await conn.fetch(
        f"""
        UPDATE deliveries d SET status = 'failed', last_error = $3
        FROM digest_items i
        WHERE i.desa_code = $1 AND i.digest_day = $2 AND d.id = i.held_delivery AND d.status = 'held'
          AND NOT EXISTS (SELECT 1 FROM deliveries g WHERE g.purpose = 'daily_digest' AND g.desa_code = $1
                          AND g.digest_day = $2 AND g.status <> 'failed')
        RETURNING {_RETURNED}
        """,  # noqa: S608 - a constant column list
        desa_code,
        day,
        cause,
    )
    return [delivery_of(r) for r in records]
