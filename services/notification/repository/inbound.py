"""SQL of inbound messages: one row per message id (a replayed webhook finds it), counted per phone key for the
flood limit. Never commits: callers own the transaction. Holds no phone number and no text: the event does."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.db import Conn


async def lock_phone(conn: Conn, phone_key: str) -> None:
    """Serialise one sender's messages, so that two webhooks at once cannot both pass the limit's last place."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 15))", f"inbound:{phone_key}")


async def published_since(conn: Conn, phone_key: str, since: datetime) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM inbound_messages WHERE phone_key = $1 AND published AND created_at >= $2",
        phone_key,
        since,
    )
    return int(count or 0)


async def record(conn: Conn, message_id: uuid.UUID, channel: str, phone_key: str, published: bool) -> bool:
    """Keep the message's id; False when it was there already (a redelivered webhook: nothing to do)."""
    row = await conn.fetchrow(
        """
        INSERT INTO inbound_messages (message_id, channel, phone_key, published) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING RETURNING 1
        """,
        message_id,
        channel,
        phone_key,
        published,
    )
    return row is not None
