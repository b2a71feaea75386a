"""The BPJS Ketenagakerjaan registration web service (``PAYUNG_BPJS_ADAPTER=http``): registering BPU participants
and getting their membership numbers (KPJ).

The adapters, chosen with ``PAYUNG_BPJS_ADAPTER``:

- ``local``: ``local_issuer.LocalNumberIssuer``, a local issuer and NOT BPJS (numbers at once, in the seating
  transaction). The default, so the demo and the end-to-end suite run without any BPJS.
- ``http``: this client of a BPJS-style web service (``simulators/bpjs.py`` is a local stand-in for it). Seats wait
  as ``pending_bpjs``; the registrar job (``handlers/registrar.py``) sends them and applies the answers.
- ``file``: the batch file exchange of ``bpjs_files.py`` (export the month's roster, import BPJS's response).
  Seats wait as ``pending_bpjs`` until the response file is imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from services.enrolment.domain import Answer, MembershipRequest, Refused, Registered
from services.enrolment.errors import BpjsUnavailable
from shared import logs

log = logs.get_logger(__name__)


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

    async def register(self, requests: Sequence[MembershipRequest]) -> list[Answer]:
        """One answer per request, in order; ``BpjsUnavailable`` when no answer could be had (the seats stay
        pending and are sent again)."""
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
