"""Supporting letters (surat keterangan): a photo (JPEG/PNG) or PDF kept with a nomination (docs/portal.md).

The type is decided by the content's magic bytes, never by the file name or the declared Content-Type; the size
by ``letter_max_bytes`` (``domain.check_letter``). Access follows the nomination's area (handlers/access.py) and
every read, refused read and upload is audited in the transaction that does it; the bytes live in the service's
``LetterStore`` (adapters/letters.py). Retention: ``purge`` deletes letters of nominations decided more than
``letter_retention_days`` ago (``python -m services.nomination purge``, daily).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from services.nomination import domain
from services.nomination.adapters.letters import Letter
from services.nomination.commands import CopyLetter, PurgeLetters, ReadLetter, StoreLetter
from services.nomination.errors import LetterRefused
from services.nomination.handlers import access
from services.nomination.repository import nominations
from shared import audit
from shared.auth import Principal, system
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


async def store(deps: Deps, conn: Conn, cmd: StoreLetter) -> Handled[Letter | LetterRefused]:
    """Check and store the letter of a nomination in the caller's area (404 outside it, as if absent; 409 once
    the nomination is decided). Storing the same letter again (a retried send) changes nothing. A refusal is an
    answer, not an exception: its audit row commits with the transaction."""
    try:
        media_type = domain.check_letter(cmd.content, deps.settings.letter_max_bytes)
    except LetterRefused as exc:
        return Handled(exc)
    return Handled(await _store(deps, conn, cmd.caller, cmd.nomination_id, cmd.content, media_type))


async def _store(
    deps: Deps, conn: Conn, caller: Principal, nomination_id: uuid.UUID, content: bytes, media_type: str
) -> Letter | LetterRefused:
    row = await nominations.desa_and_outcome(conn, nomination_id, lock=True)
    if row is None or not await access.allowed(
        conn, caller, row["desa_code"], denied="letter.upload_denied", subject=nomination_id
    ):
        return LetterRefused(404, "NOT_FOUND", "No such nomination")
    if row["outcome"] is not None:
        return LetterRefused(409, "NOMINATION_DECIDED", "the nomination is decided; submit a new one instead")
    letter = Letter(nomination_id, media_type, len(content), hashlib.sha256(content).hexdigest(), content)
    await deps.letters.put(conn, letter, caller.name)
    detail = {"media_type": media_type, "size_bytes": len(content), "desa_code": row["desa_code"]}
    await audit.record(conn, caller, "letter.uploaded", nomination_id, detail)
    return letter


async def copy(deps: Deps, conn: Conn, cmd: CopyLetter) -> Handled[Letter | LetterRefused]:
    """A corrected resubmission keeps the rejected nomination's letter: read it (audited, area-checked) and store it
    for the new one (404 when the source has none or lies outside the area)."""
    source = await _read(deps, conn, cmd.caller, cmd.source_id)
    if source is None:
        return Handled(LetterRefused(404, "NOT_FOUND", "No letter to copy"))
    try:
        media_type = domain.check_letter(source.content, deps.settings.letter_max_bytes)
    except LetterRefused as exc:
        return Handled(exc)
    return Handled(await _store(deps, conn, cmd.caller, cmd.nomination_id, source.content, media_type))


async def read(deps: Deps, conn: Conn, cmd: ReadLetter) -> Handled[Letter | None]:
    """The letter for the caller (None when absent or outside its area: the refusal is audited too)."""
    return Handled(await _read(deps, conn, cmd.caller, cmd.nomination_id))


async def _read(deps: Deps, conn: Conn, caller: Principal, nomination_id: uuid.UUID) -> Letter | None:
    row = await nominations.desa_and_outcome(conn, nomination_id)
    if row is None or not await access.allowed(
        conn, caller, row["desa_code"], denied="letter.read_denied", subject=nomination_id
    ):
        return None
    letter = await deps.letters.get(conn, nomination_id)
    if letter is not None:
        await audit.record(conn, caller, "letter.read", nomination_id, {"desa_code": row["desa_code"]})
    return letter


async def purge(deps: Deps, conn: Conn, cmd: PurgeLetters) -> Handled[int]:
    """Delete the letters of nominations decided more than ``retention_days`` ago; audited as one system row."""
    count = await deps.letters.delete_decided_before(conn, timedelta(days=cmd.retention_days))
    detail = {"count": count, "days": cmd.retention_days}
    await audit.record(conn, system("nomination"), "letter.purged", None, detail)
    return Handled(count)
