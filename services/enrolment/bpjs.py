"""The BPJS Ketenagakerjaan gateway: where membership numbers (KPJ) come from.

For now numbers are issued locally, from a PostgreSQL sequence (``LocalNumberIssuer``): they are Payung's own
numbers, recorded with issuer ``local`` on every seat, and are NOT BPJS numbers. A later issue adds the real
gateway (an HTTP adapter and a batch file exchange); ``enrolment.confirmed`` will then wait for BPJS's
confirmation. The handler only knows ``BpjsGateway``, so that change stays inside this module and the wiring.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import asyncpg

from services.enrolment.domain import format_membership_number


@dataclass(frozen=True)
class MembershipRequest:
    """What BPJS needs to register one BPU participant paid by a funding source."""

    nomination_id: uuid.UUID
    nik: str
    full_name: str
    birth_date: date
    sex: str
    phone: str
    desa_code: str
    occupation: str
    funding_source: str
    programme_year: int
    coverage_start: date


class BpjsGateway(Protocol):
    """Registers participants and gives back their membership numbers."""

    issuer: str  # recorded on each seat: which authority issued its number

    async def issue(self, conn: asyncpg.Connection, requests: Sequence[MembershipRequest]) -> list[str]:
        """One membership number per request, in order.

        ``conn`` is the batch's transaction: an implementation that records pending requests (a batch file
        exchange) writes them with the seats, atomically. Raise ``shared.errors.TransientError`` when the
        gateway is unavailable, so the batch is retried rather than dead-lettered.
        """
        ...


class LocalNumberIssuer:
    """Issues membership numbers from the local sequence ``local_membership_number_seq``, without asking BPJS."""

    issuer = "local"

    async def issue(self, conn: asyncpg.Connection, requests: Sequence[MembershipRequest]) -> list[str]:
        if not requests:
            return []
        serials = await conn.fetch(
            "SELECT nextval('local_membership_number_seq') AS n FROM generate_series(1, $1)", len(requests)
        )
        return [format_membership_number(r["n"]) for r in sorted(serials, key=lambda r: r["n"])]
