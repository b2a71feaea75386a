"""A BPJS Ketenagakerjaan SIMULATOR for the demo and the tests: it is not BPJS and issues no real numbers.

It speaks the protocol ``services.enrolment.adapters.bpjs_http.HttpBpjsClient`` expects (``POST
/v1/registrations``, bearer token, 200 with a membership number, 422 with a refusal code) and remembers each
reference, so a repeated request gets the same answer. It refuses the NIKs listed in ``refuse`` (code
``PU_ACTIVE``: already a wage-earner participant) and can be told to fail (``fail_next`` answers 500, ``down``
answers 503 until lifted) or to answer slowly (``delay_s``) to exercise retries and timeouts, in process or over
HTTP: ``POST /_simulator/faults`` with any of ``{"down": true, "delay_s": 30, "fail_next": 5}``. ``GET
/_simulator/stats`` counts requests, references and distinct NIKs registered (a person registered under two
references would show as fewer NIKs than references).

Run it: ``uvicorn simulators.bpjs:create --factory --port 8090``
(``PAYUNG_BPJS_SIM_TOKEN``, ``PAYUNG_BPJS_SIM_REFUSE`` = comma-separated NIKs).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

SIMULATED_PREFIX = "9"  # simulator numbers start with 9: never mistaken for numbers BPJS issued


class Simulator:
    def __init__(self, token: str, refuse: Iterable[str] = ()) -> None:
        self.token = token
        self.refuse = set(refuse)
        self.fail_next = 0
        self.delay_s = 0.0
        self.down = False
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.niks: dict[str, str] = {}  # reference -> NIK, of the registrations answered 200
        self.requests = 0
        self._serials = itertools.count(1)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        reference = str(body["reference"])
        if reference not in self.answers:
            if body.get("nik") in self.refuse:
                reason = "Sudah terdaftar sebagai peserta Penerima Upah (simulator)"
                self.answers[reference] = (422, {"code": "PU_ACTIVE", "reason": reason})
            else:
                number = f"{SIMULATED_PREFIX}{next(self._serials):010d}"
                self.answers[reference] = (200, {"membership_number": number, "reference": reference})
                self.niks[reference] = str(body.get("nik"))
        return self.answers[reference]


def create(simulator: Simulator | None = None) -> FastAPI:
    sim = simulator or Simulator(
        token=os.environ.get("PAYUNG_BPJS_SIM_TOKEN", "simulator-token"),
        refuse=[n for n in os.environ.get("PAYUNG_BPJS_SIM_REFUSE", "").split(",") if n],
    )
    app = FastAPI(title="BPJS Ketenagakerjaan simulator (not BPJS)")
    app.state.simulator = sim

    @app.post("/v1/registrations")
    async def register(body: dict[str, Any], authorization: str = Header(default="")) -> JSONResponse:
        sim.requests += 1
        if authorization != f"Bearer {sim.token}":
            return JSONResponse({"error": "login failed"}, status_code=401)
        if sim.delay_s:
            await asyncio.sleep(sim.delay_s)  # a slow BPJS, for the client's timeout
        if sim.down:
            return JSONResponse({"error": "service unavailable (simulated)"}, status_code=503)
        if sim.fail_next > 0:
            sim.fail_next -= 1
            return JSONResponse({"error": "internal error (simulated)"}, status_code=500)
        status, answer = sim.answer(body)
        return JSONResponse(answer, status_code=status)

    @app.post("/_simulator/faults")
    async def set_faults(faults: Faults) -> dict[str, Any]:
        sim.down, sim.delay_s, sim.fail_next = faults.down, faults.delay_s, faults.fail_next
        return faults.model_dump()

    @app.get("/_simulator/stats")
    async def stats() -> dict[str, int]:
        return {
            "requests": sim.requests,
            "references": len(sim.niks),
            "distinct_niks": len(set(sim.niks.values())),
        }

    return app


class Faults(BaseModel):
    down: bool = False
    delay_s: float = Field(default=0.0, ge=0)
    fail_next: int = Field(default=0, ge=0)
