"""SQL of the DCI registry adapter and the re-check (tables of migration 0003). Never commits: the caller does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from shared.db import Conn


async def open_searches(conn: Conn | asyncpg.Pool, niks: Sequence[str], within_s: float) -> set[str]:
    """The NIKs asked less than ``within_s`` seconds ago whose callback has not come yet (not asked again)."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT nik FROM dci_searches
        WHERE nik = ANY($1::text[]) AND answered_at IS NULL
          AND asked_at > now() - make_interval(secs => $2::double precision)
        """,
        list(niks),
        within_s,
    )
    return {r["nik"] for r in rows}


async def add_searches(conn: Conn | asyncpg.Pool, transaction_id: str, refs: dict[str, str]) -> None:
    """``refs``: reference_id -> NIK of one search request."""
    await conn.executemany(
        "INSERT INTO dci_searches (transaction_id, reference_id, nik) VALUES ($1, $2, $3)",
        [(transaction_id, ref, nik) for ref, nik in refs.items()],
    )


async def searches_of(conn: Conn, transaction_id: str) -> dict[str, str]:
    """reference_id -> NIK of the unanswered look-ups of one transaction, locked until the caller commits."""
    rows = await conn.fetch(
        "SELECT reference_id, nik FROM dci_searches WHERE transaction_id = $1 AND answered_at IS NULL FOR UPDATE",
        transaction_id,
    )
    return {r["reference_id"]: r["nik"] for r in rows}


async def mark_answered(conn: Conn, transaction_id: str, reference_ids: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE dci_searches SET answered_at = now() WHERE transaction_id = $1 AND reference_id = ANY($2::text[])",
        transaction_id,
        list(reference_ids),
    )


async def accept_message(conn: Conn, sender_id: str, message_id: str, action: str) -> bool:
    """Record a message as accepted; False when it was accepted before (a replay)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO dci_messages (sender_id, message_id, action) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        sender_id,
        message_id,
        action,
    )
    return bool(inserted)


async def wake_pending(conn: Conn, niks: Sequence[str]) -> int:
    """Make the pending look-ups of these NIKs due now (their answer has just arrived)."""
    status = await conn.execute(
        "UPDATE pending_lookups SET next_attempt_at = now() WHERE envelope #>> '{payload,nik}' = ANY($1::text[])",
        list(niks),
    )
    return int(status.split()[-1])


async def verified_nominations(conn: Conn, niks: Sequence[str]) -> list[asyncpg.Record]:
    """The verified nominations of these NIKs: whose cover a life event may end."""
    return await conn.fetch(
        """
        SELECT nomination_id, person_key, nik, programme_regency FROM verifications
        WHERE outcome = 'verified' AND nik = ANY($1::text[])
        """,
        list(niks),
    )


async def claim_life_event(conn: Conn, nomination_id: uuid.UUID, change: str, source: str, event_id: uuid.UUID) -> bool:
    """True the first time this change is recorded for this nomination (``source``: a message id, or recheck)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO announced_life_events (nomination_id, change, source, event_id) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        nomination_id,
        change,
        source,
        event_id,
    )
    return bool(inserted)


async def lock_subscriptions(conn: Conn) -> None:
    """Until the transaction ends: one replica at a time checks for and records a subscription."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('dci-death-subscription', 0))")


async def subscription(conn: Conn | asyncpg.Pool, event_type: str) -> asyncpg.Record | None:
    """The latest subscription request for ``event_type`` that was not refused."""
    return await conn.fetchrow(
        """
        SELECT * FROM dci_subscriptions WHERE event_type = $1 AND status <> 'refused'
        ORDER BY requested_at DESC LIMIT 1
        """,
        event_type,
    )


async def add_subscription(conn: Conn | asyncpg.Pool, transaction_id: str, event_type: str) -> None:
    await conn.execute(
        "INSERT INTO dci_subscriptions (transaction_id, event_type, status) VALUES ($1, $2, 'requested')",
        transaction_id,
        event_type,
    )


async def settle_subscription(conn: Conn, transaction_id: str, status: str, code: str | None) -> bool:
    result = await conn.execute(
        "UPDATE dci_subscriptions SET status = $2, code = $3, updated_at = now() WHERE transaction_id = $1",
        transaction_id,
        status,
        code,
    )
    return result.endswith(" 1")
