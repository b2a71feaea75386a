"""SQL of receipts and opt-outs. Never commits: callers own the transaction.

A receipt can arrive before the send call that produced its message id has been recorded. Both sides therefore
take the same transaction-scoped advisory lock per (channel, provider message id) before looking at the other:
the webhook stores the receipt and applies it to a delivery already recorded as sent; the dispatch job records the
send result and applies receipts already stored. Whichever commits second sees the other's row, so no receipt is
lost and none is applied twice (receipts are keyed by (channel, id, status), so a repeated one is a no-op).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.notification.domain.deliveries import Delivery
from services.notification.domain.receipts import Receipt, status_after
from services.notification.repository.deliveries import delivery_of
from shared.db import Conn

Key = tuple[str, str]  # (channel, provider message id)


async def lock_keys(conn: Conn, keys: Iterable[Key]) -> None:
    """Serialise receipt handling per message id (sorted, so two transactions never wait on each other in a cycle)."""
    for channel, pid in sorted(set(keys)):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", f"{channel}:{pid}")


async def store_receipts(conn: Conn, channel: str, receipts: Sequence[Receipt]) -> int:
    """Keep receipts (a repeated one is ignored); returns how many were new."""
    if not receipts:
        return 0
    rows = await conn.fetch(
        """
        INSERT INTO receipts (channel, provider_message_id, status, cause)
        SELECT $1, v.pid, v.status, v.cause FROM unnest($2::text[], $3::text[], $4::text[]) AS v(pid, status, cause)
        ON CONFLICT DO NOTHING
        RETURNING 1
        """,
        channel,
        [r.provider_message_id for r in receipts],
        [r.status for r in receipts],
        [r.cause for r in receipts],
    )
    return len(rows)


async def apply_receipts(conn: Conn, keys: Sequence[Key]) -> tuple[int, list[Delivery]]:
    """Bring the deliveries with these message ids up to date with their stored receipts.

    Returns how many deliveries changed, and those that turned failed (their ``NotificationFailed`` is due).
    Call with the keys locked (``lock_keys``).
    """
    keys = sorted(set(keys))
    if not keys:
        return 0, []
    found = await conn.fetch(
        """
        SELECT d.id, d.status, array_agg(r.status) AS received,
               max(r.cause) FILTER (WHERE r.status = 'failed') AS cause
        FROM deliveries d
        JOIN receipts r ON r.channel = d.channel AND r.provider_message_id = d.provider_message_id
        WHERE (d.channel, d.provider_message_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        GROUP BY d.id, d.status
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    changes = [
        (r["id"], new, r["cause"])
        for r in found
        if (new := status_after(r["status"], set(r["received"]))) != r["status"]
    ]
    if not changes:
        return 0, []
    records = await conn.fetch(
        """
        UPDATE deliveries d
        SET status = v.status,
            delivered_at = CASE WHEN v.status IN ('delivered', 'read') THEN coalesce(d.delivered_at, now())
                                ELSE d.delivered_at END,
            read_at = CASE WHEN v.status = 'read' THEN now() ELSE d.read_at END,
            last_error = CASE WHEN v.status = 'failed' THEN v.cause ELSE d.last_error END
        FROM unnest($1::uuid[], $2::text[], $3::text[]) AS v(id, status, cause)
        WHERE d.id = v.id
        RETURNING d.id, d.event_id, d.nomination_id, d.person_key, d.purpose, d.recipient_role, d.channel, d.address,
                  d.body, d.attempts, d.last_error, d.status
        """,
        [c[0] for c in changes],
        [c[1] for c in changes],
        [c[2] for c in changes],
    )
    await conn.execute(
        """
        UPDATE receipts SET applied_at = now()
        WHERE applied_at IS NULL AND (channel, provider_message_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    failed = [delivery_of({k: v for k, v in r.items() if k != "status"}) for r in records if r["status"] == "failed"]
    return len(records), failed


async def add_opt_out(conn: Conn | asyncpg.Pool, address: str, source: str) -> bool:
    """Record that ``address`` (E.164) wants no more messages; False when it already had."""
    row = await conn.fetchrow(
        "INSERT INTO opt_outs (address, source) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1", address, source
    )
    return row is not None


async def opted_out(conn: Conn | asyncpg.Pool, addresses: Iterable[str | None]) -> set[str]:
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return set()
    rows = await conn.fetch("SELECT address FROM opt_outs WHERE address = ANY($1::text[])", wanted)
    return {r["address"] for r in rows}
