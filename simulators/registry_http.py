"""A SIMULATOR of a Dukcapil-style civil-registry web service, for tests and the demo. Not the real registry.

It answers ``POST /nik`` from a registry CSV (the ``load-registry`` format) the way the verification service's HTTP
adapter (``services/verification/adapters/http.py``) expects, and can be told to misbehave through ``POST
/_simulator/faults`` (JSON, every field optional): ``down`` (answers 503), ``delay_s`` (answers late), ``throttle``
(answers 429), ``quota_left`` (then "daily quota exhausted"), ``login_ok`` false ("login failed"), ``ip_allowed`` false
("IP not allowed"). ``GET /_simulator/stats`` counts requests.

    python -m simulators.registry_http REGISTRY.csv [--port 8090] [--user payung --password x]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Faults:
    down: bool = False
    delay_s: float = 0.0
    throttle: bool = False
    quota_left: int | None = None
    login_ok: bool = True
    ip_allowed: bool = True


@dataclass
class SimulatorState:
    rows: dict[str, dict[str, str]]
    user_id: str
    password: str
    faults: Faults = field(default_factory=Faults)
    requests: int = 0


def read_registry(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["NIK"]: row for row in csv.DictReader(handle)}


def _answer(row: dict[str, str]) -> JSONResponse:
    return JSONResponse({"content": [row], "lastPage": True, "numberOfElements": 1})


def _error(text: str) -> JSONResponse:
    return JSONResponse({"content": [{"RESPON": text}], "lastPage": True, "numberOfElements": 1})


def create_simulator(rows: dict[str, dict[str, str]], user_id: str, password: str) -> Starlette:
    state = SimulatorState(rows, user_id, password)

    async def nik(request: Request) -> JSONResponse:
        state.requests += 1
        faults = state.faults
        if faults.delay_s:
            await asyncio.sleep(faults.delay_s)
        if faults.down:
            return JSONResponse({"error": "service unavailable"}, status_code=503)
        if faults.throttle:
            return JSONResponse({"error": "too many requests"}, status_code=429)
        body: dict[str, Any] = await request.json()
        if not faults.login_ok or body.get("user_id") != state.user_id or body.get("password") != state.password:
            return _error("login failed")
        if not faults.ip_allowed:
            return _error("IP not allowed")
        if faults.quota_left is not None:
            if faults.quota_left <= 0:
                return _error("daily quota exhausted")
            faults.quota_left -= 1
        row = state.rows.get(str(body.get("NIK", "")))
        return _answer(row) if row else _error("not found")

    async def set_faults(request: Request) -> JSONResponse:
        state.faults = Faults(**(await request.json()))
        return JSONResponse(asdict(state.faults))

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse({"requests": state.requests, "people": len(state.rows)})

    app = Starlette(
        routes=[
            Route("/nik", nik, methods=["POST"]),
            Route("/_simulator/faults", set_faults, methods=["POST"]),
            Route("/_simulator/stats", stats, methods=["GET"]),
        ]
    )
    app.state.simulator = state
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("registry", type=Path, help="Registry CSV (load-registry format)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--user", default="payung")
    parser.add_argument("--password", default="rahasia")
    options = parser.parse_args()
    app = create_simulator(read_registry(options.registry), options.user, options.password)
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
