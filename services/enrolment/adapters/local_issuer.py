"""The local membership number issuer (``PAYUNG_BPJS_ADAPTER=local``): NOT BPJS.

Numbers come from the PostgreSQL sequence ``local_membership_number_seq`` in the seating transaction itself, are
never refused and are recorded with issuer ``local``, so the demo and the end-to-end suite run without any BPJS.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.enrolment.domain import Answer, MembershipRequest, Registered, format_membership_number
from shared.db import Conn


class LocalNumberIssuer:
    """A local issuer, not BPJS: numbers from the sequence ``local_membership_number_seq``, never a refusal."""

    issuer = "local"

    async def register(self, conn: Conn, requests: Sequence[MembershipRequest]) -> list[Answer]:
        """One number per request, in order; ``conn`` is the seating transaction's (the sequence lives there)."""
        if not requests:
            return []
        serials = await conn.fetch(
            "SELECT nextval('local_membership_number_seq') AS n FROM generate_series(1, $1)", len(requests)
        )
        numbers = [format_membership_number(r["n"]) for r in sorted(serials, key=lambda r: r["n"])]
        return [Registered(r.nomination_id, n) for r, n in zip(requests, numbers, strict=True)]
