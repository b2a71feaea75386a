"""The BPJS Ketenagakerjaan gateway: registering BPU participants and getting their membership numbers (KPJ).

One interface (``BpjsGateway.register``: requests in, one ``Registered`` or ``Refused`` per request out) and its
adapters, chosen with ``PAYUNG_BPJS_ADAPTER``:

- ``local``: ``LocalNumberIssuer``, a local issuer and NOT BPJS. Numbers come from the PostgreSQL sequence
  ``local_membership_number_seq`` in the allocation's own transaction, never refused, recorded with issuer
  ``local``. The default, so the demo and the end-to-end suite run without any BPJS.
- ``http``: ``HttpBpjsClient``, a client of a BPJS-style web service (``bpjs_simulator.py`` is a local stand-in
  for it). Seats wait as ``pending_bpjs``; the registrar (``registrar.py``) sends them and applies the answers.
- ``file``: the batch file exchange of ``bpjs_files.py`` (export the month's roster, import BPJS's response).
  Seats wait as ``pending_bpjs`` until the response file is imported.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import httpx

from services.enrolment.domain import format_membership_number
from shared import logs
from shared.db import Conn
from shared.errors import TransientError

log = logs.get_logger(__name__)


@dataclass(frozen=True)
class MembershipRequest:
    """What BPJS needs to register one BPU participant paid by a funding source."""

    nomination_id: uuid.UUID  # sent as the request's reference: BPJS answers a repeated reference the same way
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


@dataclass(frozen=True)
class Registered:
    nomination_id: uuid.UUID
    membership_number: str


@dataclass(frozen=True)
class Refused:
    """BPJS will not register the person (e.g. already a wage-earner participant): the seat is freed."""

    nomination_id: uuid.UUID
    code: str
    reason: str


Answer = Registered | Refused


class BpjsUnavailable(TransientError):
    """BPJS did not answer usefully (down, timing out, refusing our credentials): ask again later."""


class BpjsGateway(Protocol):
    """Registers participants with BPJS Ketenagakerjaan."""

    issuer: str  # recorded on each seat: which authority issued its number

    async def register(self, conn: Conn, requests: Sequence[MembershipRequest]) -> list[Answer]:
        """One answer per request, in order. ``conn`` is the caller's connection (the local issuer's sequence
        lives there). Raise ``BpjsUnavailable`` when no answer could be had: nothing is lost, the seats stay
        pending and are sent again."""
        ...


class LocalNumberIssuer:
    """A local issuer, not BPJS: numbers from the sequence ``local_membership_number_seq``, never a refusal."""

    issuer = "local"

    async def register(self, conn: Conn, requests: Sequence[MembershipRequest]) -> list[Answer]:
        if not requests:
            return []
        serials = await conn.fetch(
            "SELECT nextval('local_membership_number_seq') AS n FROM generate_series(1, $1)", len(requests)
        )
        numbers = [format_membership_number(r["n"]) for r in sorted(serials, key=lambda r: r["n"])]
        return [Registered(r.nomination_id, n) for r, n in zip(requests, numbers, strict=True)]


@dataclass(frozen=True)
class HttpConfig:
    url: str  # base URL; requests go to {url}/v1/registrations
    token: str
    timeout_s: float = 10.0
    attempts: int = 3  # per request, within one call of register()
    backoff_s: float = 0.5  # first wait between attempts, doubled each time


class HttpBpjsClient:
    """Client of a BPJS-style registration web service.

    ``POST {url}/v1/registrations`` with a bearer token and the participant as JSON, ``reference`` = nomination id.
    200 ``{"membership_number"}`` registers; 422 ``{"code", "reason"}`` refuses. Timeouts, connection errors, 5xx
    and 429 are retried with exponential backoff; when the attempts run out (or the service rejects our
    credentials, 401/403) ``BpjsUnavailable`` is raised and the caller keeps the seat pending. Since the reference
    makes the request idempotent at BPJS, a retry after a lost answer never registers anyone twice.
    """

    issuer = "bpjs"

    def __init__(self, config: HttpConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._client = client or httpx.AsyncClient(
            base_url=config.url,
            timeout=config.timeout_s,
            headers={"Authorization": f"Bearer {config.token}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def register(self, conn: Conn, requests: Sequence[MembershipRequest]) -> list[Answer]:
        return [await self._register_one(r) for r in requests]

    async def _register_one(self, request: MembershipRequest) -> Answer:
        body = _request_body(request)
        wait = self.config.backoff_s
        last = "no attempt"
        for attempt in range(1, self.config.attempts + 1):
            try:
                response = await self._client.post("/v1/registrations", json=body)
            except httpx.TransportError as exc:  # timeouts, refused connections, broken answers
                last = type(exc).__name__
            else:
                if response.status_code == 200:
                    return Registered(request.nomination_id, _membership_number(response.json()))
                if response.status_code == 422:
                    data = response.json()
                    return Refused(request.nomination_id, str(data.get("code", "refused")), str(data.get("reason", "")))
                if response.status_code in (401, 403):
                    raise BpjsUnavailable(f"BPJS refused our credentials ({response.status_code})")
                last = f"HTTP {response.status_code}"
            log.warning("bpjs registration attempt failed", nomination_id=str(request.nomination_id),
                        attempt=attempt, error=last)  # fmt: skip
            if attempt < self.config.attempts:
                await asyncio.sleep(wait)  # backoff between attempts, not a test wait
                wait *= 2
        raise BpjsUnavailable(f"BPJS registration failed after {self.config.attempts} attempts: {last}")


def _request_body(r: MembershipRequest) -> dict[str, Any]:
    return {
        "reference": str(r.nomination_id),
        "category": "BPU",
        "nik": r.nik,
        "full_name": r.full_name,
        "birth_date": r.birth_date.isoformat(),
        "sex": r.sex,
        "phone": r.phone,
        "desa_code": r.desa_code,
        "occupation": r.occupation,
        "payer": r.funding_source,
        "programme_year": r.programme_year,
        "coverage_start": r.coverage_start.isoformat(),
    }


def _membership_number(data: dict[str, Any]) -> str:
    number = str(data.get("membership_number", ""))
    if not number.isdigit():
        # An answer we cannot use is not a refusal of the person: keep the seat pending and ask again.
        raise BpjsUnavailable("BPJS answered 200 without a usable membership number")
    return number
