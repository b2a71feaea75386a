"""Who may see and do what: the caller's area (``domain.covers``) applied by every handler, and the refusal audited.

A nominator sees and submits its own area only; outside it a nomination, a letter or an upload is answered as if
absent (404), and the attempt is written to the audit log in the transaction of the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.nomination import domain
from services.nomination.repository import nominations
from shared import audit
from shared.auth import Principal
from shared.db import Conn

OUT_OF_AREA: Mapping[str, Any] = {"reason": "out_of_area"}


async def allowed(
    conn: Conn,
    caller: Principal,
    region_code: str | None,
    *,
    denied: str,
    subject: uuid.UUID | None,
    detail: Mapping[str, Any] = OUT_OF_AREA,
) -> bool:
    """Whether ``caller``'s area covers ``region_code`` (None: a record of no area, seen by programme staff only);
    a refusal is audited as ``denied``."""
    if region_code is None:
        ok = caller.area is None
    else:
        ok = domain.covers(caller.area, region_code)
    if not ok:
        await audit.record(conn, caller, denied, subject, detail)
    return ok


async def visible(conn: Conn, caller: Principal, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these nominations ``caller`` may read (nothing audited: the caller did not ask to read them)."""
    if caller.area is None:
        return set(ids)
    return {i for i, desa in (await nominations.desa_codes(conn, ids)).items() if domain.covers(caller.area, desa)}


@dataclass(frozen=True)
class OutOfArea:
    """The nomination's address lies outside the caller's area."""


@dataclass(frozen=True)
class ClaimRefused:
    """The caller may not nominate as the nominator it names (``domain.nominator_claim_error``)."""

    reason: str


Refusal = OutOfArea | ClaimRefused


def submission_refusal(caller: Principal, desa_code: str, nominator_type: str, region_code: str) -> Refusal | None:
    """Why ``caller`` may not submit a nomination of a person living in ``desa_code`` as this nominator, or None."""
    if not domain.covers(caller.area, desa_code):
        return OutOfArea()
    claim = domain.nominator_claim_error(caller.area, nominator_type, region_code)
    return None if claim is None else ClaimRefused(claim)
