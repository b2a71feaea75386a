"""The audit trail: who read personal data and who decided what (UU PDP: "who saw or changed what").

``record`` writes one row into the service's ``audit_log`` table (shared migration 0001) on the caller's
connection, so inside the caller's transaction: the audit row commits with the decision it records, or neither does;
a read is audited in the same transaction that reads. ``detail`` holds references and decisions (codes, counts,
region codes), never personal data (NIK, names, phone numbers): the audit log is read by more people than the data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from shared.auth import Principal
from shared.db import Conn


async def record(
    conn: Conn,
    principal: Principal,
    action: str,
    subject_id: uuid.UUID | str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One audit row, e.g. ``record(conn, caller, "nomination.read", nomination_id)``."""
    await record_many(conn, principal, action, [(subject_id, detail)])


async def record_many(
    conn: Conn,
    principal: Principal,
    action: str,
    items: Iterable[tuple[uuid.UUID | str | None, Mapping[str, Any] | None]],
) -> None:
    """The same action on several subjects (a batch of decisions), as (subject id, detail) pairs, in one round trip."""
    rows = [
        (principal.name, str(principal.role), principal.area, action, None if s is None else str(s), dict(d or {}))
        for s, d in items
    ]
    if rows:
        await conn.executemany(
            "INSERT INTO audit_log (principal, role, area, action, subject_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            rows,
        )
