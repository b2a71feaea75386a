"""Where supporting letters (surat keterangan) live: ``LetterStore`` is the one storage interface, PostgreSQL
``bytea`` in this service's own database today (``PostgresLetterStore``); an S3-compatible store can implement the
same three methods. A letter is personal data: the handlers check the area and audit every access
(handlers/letters.py); the store only keeps the bytes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from shared.db import Conn


@dataclass(frozen=True)
class Letter:
    nomination_id: uuid.UUID
    media_type: str
    size_bytes: int
    sha256: str
    content: bytes


class LetterStore(Protocol):
    """Where letter bytes live. Calls run on the caller's connection, inside its transaction (the audit row and
    the nomination's row lock come from there); an object store implementation keeps only the bytes elsewhere."""

    async def put(self, conn: Conn, letter: Letter, uploaded_by: str) -> None: ...

    async def get(self, conn: Conn, nomination_id: uuid.UUID) -> Letter | None: ...

    async def delete_decided_before(self, conn: Conn, age: timedelta) -> int: ...


class PostgresLetterStore:
    async def put(self, conn: Conn, letter: Letter, uploaded_by: str) -> None:
        await conn.execute(
            """
            INSERT INTO nomination_letters (nomination_id, media_type, size_bytes, sha256, content, uploaded_by)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (nomination_id) DO UPDATE SET media_type = EXCLUDED.media_type,
                size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, content = EXCLUDED.content,
                uploaded_by = EXCLUDED.uploaded_by, uploaded_at = now()
            """,
            letter.nomination_id,
            letter.media_type,
            letter.size_bytes,
            letter.sha256,
            letter.content,
            uploaded_by,
        )

    async def get(self, conn: Conn, nomination_id: uuid.UUID) -> Letter | None:
        row = await conn.fetchrow(
            "SELECT media_type, size_bytes, sha256, content FROM nomination_letters WHERE nomination_id = $1",
            nomination_id,
        )
        if row is None:
            return None
        return Letter(nomination_id, row["media_type"], row["size_bytes"], row["sha256"], bytes(row["content"]))

    async def delete_decided_before(self, conn: Conn, age: timedelta) -> int:
        deleted = await conn.fetch(
            """
            DELETE FROM nomination_letters l USING nominations n
            WHERE l.nomination_id = n.id AND n.outcome IS NOT NULL AND n.updated_at < now() - $1::interval
            RETURNING l.nomination_id
            """,
            age,
        )
        return len(deleted)
