"""Supporting letters (surat keterangan): a photo (JPEG/PNG) or PDF uploaded with a nomination.

A letter is personal data. ``LetterStore`` is the one storage interface (PostgreSQL ``bytea`` in this service's own
database today; an S3-compatible store can implement the same three methods). The type is decided by the content's
magic bytes, never by the file name or the declared Content-Type; the size by ``letter_max_bytes``. Access follows
the nomination's area (``Principal.covers``) and every read, refused read and upload is audited (shared/audit.py) in
the transaction that does it. Retention: ``purge`` deletes letters of nominations decided more than
``letter_retention_days`` ago (docs/portal.md); run it daily: ``python -m services.nomination.letters purge``
(which also purges the portal's spreadsheet uploads, ``uploads.purge``).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import asyncpg

from shared import audit
from shared.auth import Principal, system
from shared.db import Conn
from shared.errors import PayungError

MEDIA_TYPES = ("image/jpeg", "image/png", "application/pdf")


class LetterRefused(PayungError):
    """An upload that is not a letter we keep: ``field`` and a reason that never repeats the content."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def sniff(content: bytes) -> str | None:
    """The media type the content's magic bytes show (JPEG, PNG, PDF), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check(content: bytes, max_bytes: int) -> str:
    """The media type of an acceptable letter, or LetterRefused (empty, too large, not JPEG/PNG/PDF)."""
    if not content:
        raise LetterRefused(422, "LETTER_EMPTY", "the letter is empty")
    if len(content) > max_bytes:
        raise LetterRefused(413, "LETTER_TOO_LARGE", f"a letter may be at most {max_bytes} bytes")
    media_type = sniff(content)
    if media_type is None:
        raise LetterRefused(415, "LETTER_TYPE", "a letter must be a JPEG or PNG photo or a PDF (checked by content)")
    return media_type


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


STORE: LetterStore = PostgresLetterStore()


async def _desa_of(conn: Conn, nomination_id: uuid.UUID, lock: bool = False) -> asyncpg.Record | None:
    if lock:
        return await conn.fetchrow("SELECT desa_code, outcome FROM nominations WHERE id = $1 FOR UPDATE", nomination_id)
    return await conn.fetchrow("SELECT desa_code, outcome FROM nominations WHERE id = $1", nomination_id)


async def upload(
    pool: asyncpg.Pool,
    nomination_id: uuid.UUID,
    content: bytes,
    max_bytes: int,
    principal: Principal,
    store: LetterStore = STORE,
) -> Letter:
    """Check and store the letter of a nomination in ``principal``'s area (404 outside it, as if absent; 409 once
    the nomination is decided). Uploading the same letter again (a retried send) changes nothing."""
    media_type = check(content, max_bytes)
    letter = Letter(nomination_id, media_type, len(content), hashlib.sha256(content).hexdigest(), content)
    refused: LetterRefused | None = None
    async with pool.acquire() as conn, conn.transaction():  # the denial's audit row commits; then we refuse
        row = await _desa_of(conn, nomination_id, lock=True)
        if row is None or not principal.covers(row["desa_code"]):
            if row is not None:
                await audit.record(conn, principal, "letter.upload_denied", nomination_id, {"reason": "out_of_area"})
            refused = LetterRefused(404, "NOT_FOUND", "No such nomination")
        elif row["outcome"] is not None:
            refused = LetterRefused(409, "NOMINATION_DECIDED", "the nomination is decided; submit a new one instead")
        else:
            await store.put(conn, letter, principal.name)
            detail = {"media_type": media_type, "size_bytes": len(content), "desa_code": row["desa_code"]}
            await audit.record(conn, principal, "letter.uploaded", nomination_id, detail)
    if refused is not None:
        raise refused
    return letter


async def copy(
    pool: asyncpg.Pool,
    source_id: uuid.UUID,
    nomination_id: uuid.UUID,
    max_bytes: int,
    principal: Principal,
    store: LetterStore = STORE,
) -> Letter:
    """A corrected resubmission keeps the rejected nomination's letter: read it (audited, area-checked) and store it
    for the new one (404 when the source has none or lies outside the area)."""
    letter = await read(pool, source_id, principal, store)
    if letter is None:
        raise LetterRefused(404, "NOT_FOUND", "No letter to copy")
    return await upload(pool, nomination_id, letter.content, max_bytes, principal, store)


async def read(
    pool: asyncpg.Pool, nomination_id: uuid.UUID, principal: Principal, store: LetterStore = STORE
) -> Letter | None:
    """The letter for ``principal`` (None when absent or outside its area: the refusal is audited too)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _desa_of(conn, nomination_id)
        if row is None:
            return None
        if not principal.covers(row["desa_code"]):
            await audit.record(conn, principal, "letter.read_denied", nomination_id, {"reason": "out_of_area"})
            return None
        letter = await store.get(conn, nomination_id)
        if letter is not None:
            await audit.record(conn, principal, "letter.read", nomination_id, {"desa_code": row["desa_code"]})
        return letter


async def purge(pool: asyncpg.Pool, retention_days: int, store: LetterStore = STORE) -> int:
    """Delete the letters of nominations decided more than ``retention_days`` ago; audited as one system row."""
    async with pool.acquire() as conn, conn.transaction():
        count = await store.delete_decided_before(conn, timedelta(days=retention_days))
        await audit.record(conn, system("nomination"), "letter.purged", None, {"count": count, "days": retention_days})
    return count


async def _purge_main() -> int:
    from services.nomination import uploads
    from services.nomination.settings import NominationSettings
    from shared import db

    settings = NominationSettings()
    pool = await db.create_pool(settings.database_url, 1, 1)
    try:
        count = await purge(pool, settings.letter_retention_days)
        async with pool.acquire() as conn, conn.transaction():  # the portal's uploads: the same daily purge
            uploads_purged = await uploads.purge(conn, settings.upload_retention_days)
        print(f"uploads purged: {uploads_purged}")
        return count
    finally:
        await pool.close()


if __name__ == "__main__":
    if sys.argv[1:] != ["purge"]:
        sys.exit("usage: python -m services.nomination.letters purge")
    print(f"letters purged: {asyncio.run(_purge_main())}")
