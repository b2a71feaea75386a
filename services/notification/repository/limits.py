"""SQL of the per-recipient daily limit (``domain.limits``). Never commits: callers own the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from services.notification.domain.deliveries import Delivery
from shared.db import Conn


async def sent_today(conn: Conn, addresses: Iterable[str | None], since: datetime) -> dict[str, int]:
    """Messages (digests aside) sent to each of ``addresses`` since ``since`` (the local day's start)."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return {}
    rows = await conn.fetch(
        """
        SELECT address, count(*) AS n FROM deliveries
        WHERE address = ANY($1::text[]) AND sent_at >= $2 AND purpose <> 'daily_digest'
        GROUP BY address
        """,
        wanted,
        since,
    )
    return {r["address"]: r["n"] for r in rows}


async def fold_into_digest(conn: Conn, deliveries: Sequence[Delivery]) -> list[Delivery]:
    """Hold these claimed deliveries inside their desa's next digest: each is tied to its event's open digest
    item and becomes 'held' (the digest resolves it). Only a message to one of the desa's officials (the digest's
    recipients) can fold. Returns those that could not (no open item, or not addressed to an official)."""
    if not deliveries:
        return []
    rows = await conn.fetch(
        """
        WITH joined AS (
            UPDATE digest_items i SET held_delivery = v.id
            FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS v(id, event_id, address)
            WHERE i.event_id = v.event_id AND i.digest_day IS NULL AND i.held_delivery IS NULL
              AND EXISTS (SELECT 1 FROM desa_contacts c, jsonb_array_elements(c.routes) AS r
                          WHERE c.desa_code = i.desa_code AND r->>'address' = v.address)
            RETURNING i.held_delivery
        )
        UPDATE deliveries d SET status = 'held', next_attempt_at = NULL, attempts = d.attempts - 1
        FROM joined WHERE d.id = joined.held_delivery AND d.status = 'sending'
        RETURNING d.id
        """,
        [d.id for d in deliveries],
        [d.event_id for d in deliveries],
        [d.address for d in deliveries],
    )
    held = {r["id"] for r in rows}
    return [d for d in deliveries if d.id not in held]
