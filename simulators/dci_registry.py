"""A SIMULATOR of a civil registry speaking DCI (spdci registry core API v1.0.0), for tests and the demo.

It serves a registry CSV (the ``load-registry`` format, e.g. from ``tools/synthetic_registry.py``) or a synthetic
registry it generates, and plays the registry's side of ``shared.dci``: every request must carry a valid signature
of a configured client key, and every answer and callback it sends is signed with its own key.

- ``POST /registry/search``: acknowledged at once, answered by a signed ``on-search`` POST to the header's
  ``sender_uri`` (after ``callback_delay_s``).
- ``POST /registry/sync/search``: answered in the response, signed.
- ``POST /registry/subscribe``: acknowledged, confirmed by a signed ``on-subscribe`` to ``sender_uri``. The
  subscriber's ``notify`` endpoint is, by this simulator's onboarding convention, next to it: ``sender_uri`` with
  its last path segment replaced by ``notify``.
- ``POST /_simulator/deaths`` ``{"niks": [...], "date": "2026-11-30"}``: these people die; a signed ``notify`` goes
  to every subscription whose province filter covers them.
- ``POST /_simulator/faults`` ``{"down", "delay_s", "callback_delay_s", "drop_callbacks"}``; ``GET
  /_simulator/sent`` (callbacks sent: url, body, status), ``GET /_simulator/stats``.

    python -m simulators.dci_registry REGISTRY.csv | --synthetic 20000 [--seed 7] [--port 8091]
        [--sender-id civilregistry.kaltimprov.go.id] [--key-id 1]
    keys from the environment: PAYUNG_DCI_SIM_KEY (its Ed25519 seed, base64) and PAYUNG_DCI_SIM_CLIENT_KEYS
    (JSON {"<client sender_id>|<key id>|ed25519": "<public key, base64>"}).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared import dci


@dataclass
class Faults:
    down: bool = False
    delay_s: float = 0.0
    callback_delay_s: float = 0.0
    drop_callbacks: bool = False


@dataclass
class Subscription:
    code: str
    subscriber: str
    notify_url: str
    province: str


@dataclass
class SimulatorState:
    rows: dict[str, dict[str, str]]
    signer: dci.Signer
    clients: dci.Verifier
    faults: Faults = field(default_factory=Faults)
    deaths: dict[str, str] = field(default_factory=dict)  # NIK -> date of death (ISO)
    subscriptions: list[Subscription] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0


def read_registry(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {row["NIK"]: row for row in csv.DictReader(handle)}


def synthetic_registry(people: int, seed: int) -> dict[str, dict[str, str]]:
    from tools.synthetic_registry import REGISTRY_HEADER, generate_registry

    return {r.row()[0]: dict(zip(REGISTRY_HEADER, r.row(), strict=True)) for r in generate_registry(people, seed)}


def person_record(row: Mapping[str, str], died: str | None) -> dict[str, Any]:
    """A Dukcapil row as a DCI person record (the profile ``registry_dci.person_from_dci`` reads)."""
    record: dict[str, Any] = {
        "identifier_type": "UIN",
        "identifier": row["NIK"],
        "name": {"given_name": row["NAMA_LGKP"]},
        "sex": "male" if row["JENIS_KLMIN"] == "LAKI-LAKI" else "female",
        "birthdate": row["TGL_LHR"],
        "address": {
            "address_line1": row.get("ALAMAT", ""),
            "locality": row.get("KEL_NAME", ""),
            "region_code": row["KEL_CODE"],
            "country_code": "ID",
        },
        "additional_attributes": [
            {"name": "no_kk", "value": row.get("NO_KK", "")},
            {"name": "nik_status", "value": "MATI" if died else row["STATUS"]},
        ],
    }
    if died:
        record["deathdate"] = died
    return record


def create_simulator(rows: dict[str, dict[str, str]], signer: dci.Signer, clients: dci.Verifier) -> Starlette:
    state = SimulatorState(rows, signer, clients)
    http: dict[str, httpx.AsyncClient] = {}

    def refused(exc: dci.SignatureRefused) -> JSONResponse:
        return JSONResponse(dci.ack("ERR", "", (exc.code, exc.message)), 401)

    async def verified(request: Request) -> tuple[dict[str, Any], str] | JSONResponse:
        state.requests += 1
        if state.faults.delay_s:
            await asyncio.sleep(state.faults.delay_s)
        if state.faults.down:
            return JSONResponse({"errors": [{"code": "unavailable", "message": "down"}]}, 503)
        body = await request.json()
        try:
            return body, state.clients.verify(body)
        except dci.SignatureRefused as exc:
            return refused(exc)

    def search_answer(message: Mapping[str, Any]) -> dict[str, Any]:
        items = []
        for item in message.get("search_request") or ():
            query = (item.get("search_criteria") or {}).get("query") or {}
            row = state.rows.get(str(query.get("value"))) if query.get("type") == "UIN" else None
            records = [person_record(row, state.deaths.get(row["NIK"]))] if row else []
            items.append(
                {
                    "reference_id": item.get("reference_id"),
                    "timestamp": dci.timestamp(),
                    "status": "succ",
                    "data": {
                        "version": dci.SPEC_VERSION,
                        "reg_type": "ns:org:RegistryType:Civil",
                        "reg_record_type": "spdci-extensions-dci:Person",
                        "reg_records": records,
                    },
                }
            )
        return {"transaction_id": message.get("transaction_id"), "correlation_id": str(uuid.uuid4()),
                "search_response": items}  # fmt: skip

    async def send(url: str, action: str, receiver: str, message: dict[str, Any], count: int) -> None:
        if state.faults.callback_delay_s:
            await asyncio.sleep(state.faults.callback_delay_s)
        if state.faults.drop_callbacks:
            return
        header = dci.callback_header(action, state.signer.sender_id, receiver, count, completed=count)
        body = state.signer.envelope(header, message)
        try:
            response = await http["client"].post(url, json=body)
            status: int | str = response.status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        state.sent.append({"url": url, "action": action, "body": body, "status": status})

    async def search(request: Request) -> JSONResponse:
        checked = await verified(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, sender = checked
        answer = search_answer(body.get("message") or {})
        uri = body["header"].get("sender_uri")
        if not uri:
            return JSONResponse(dci.ack("ERR", "", ("rjct.sender_uri.missing", "no sender_uri")), 400)
        task = BackgroundTask(send, uri, "on-search", sender, answer, len(answer["search_response"]))
        return JSONResponse(dci.ack("ACK", answer["correlation_id"]), background=task)

    async def sync_search(request: Request) -> JSONResponse:
        checked = await verified(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, sender = checked
        answer = search_answer(body.get("message") or {})
        count = len(answer["search_response"])
        header = dci.callback_header("on-search", state.signer.sender_id, sender, count, completed=count)
        return JSONResponse(state.signer.envelope(header, answer))

    async def subscribe(request: Request) -> JSONResponse:
        checked = await verified(request)
        if isinstance(checked, JSONResponse):
            return checked
        body, sender = checked
        message = body.get("message") or {}
        uri = str(body["header"].get("sender_uri") or "")
        items = []
        for item in message.get("subscribe_request") or ():
            criteria = item.get("subscribe_criteria") or {}
            province = next((str(f.get("attribute_value")) for f in criteria.get("filter") or ()
                             if f.get("attribute_name") == "province_code"), "")  # fmt: skip
            code = str(uuid.uuid4())
            state.subscriptions.append(Subscription(code, sender, uri.rsplit("/", 1)[0] + "/notify", province))
            items.append({"reference_id": item.get("reference_id"), "timestamp": dci.timestamp(), "status": "succ",
                          "subscriptions": [{"code": code, "status": "subscribe", "timestamp": dci.timestamp(),
                                             "reg_event_type": criteria.get("reg_event_type")}]})  # fmt: skip
        correlation_id = str(uuid.uuid4())
        answer = {"transaction_id": message.get("transaction_id"), "correlation_id": correlation_id,
                  "subscribe_response": items}  # fmt: skip
        task = BackgroundTask(send, uri, "on-subscribe", sender, answer, len(items))
        return JSONResponse(dci.ack("ACK", correlation_id), background=task)

    async def deaths(request: Request) -> JSONResponse:
        body = await request.json()
        died = str(body.get("date") or dci.timestamp()[:10])
        niks = [n for n in body.get("niks") or () if n in state.rows]
        for nik in niks:
            state.deaths[nik] = died
        sent = 0
        for sub in state.subscriptions:
            covered = [n for n in niks if state.rows[n]["KEL_CODE"].startswith(sub.province)]
            if not covered:
                continue
            events = [{"reference_id": str(uuid.uuid4()), "timestamp": dci.timestamp(),
                       "data": {"version": dci.SPEC_VERSION, "reg_type": "ns:org:RegistryType:Civil",
                                "reg_event_type": "death", "reg_record_type": "spdci-extensions-dci:Person",
                                "reg_records": [person_record(state.rows[n], died)]}}
                      for n in covered]  # fmt: skip
            message = {"transaction_id": str(uuid.uuid4()), "notify_event": events}
            await send(sub.notify_url, "notify", sub.subscriber, message, len(events))
            sent += 1
        return JSONResponse({"died": len(niks), "notifications": sent})

    async def set_faults(request: Request) -> JSONResponse:
        state.faults = Faults(**(await request.json()))
        return JSONResponse(asdict(state.faults))

    async def sent(_: Request) -> JSONResponse:
        return JSONResponse(state.sent)

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse({"requests": state.requests, "people": len(state.rows), "deaths": len(state.deaths),
                             "subscriptions": len(state.subscriptions), "callbacks": len(state.sent)})  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        http["client"] = httpx.AsyncClient(timeout=10)
        try:
            yield
        finally:
            await http["client"].aclose()

    app = Starlette(
        routes=[
            Route("/registry/search", search, methods=["POST"]),
            Route("/registry/sync/search", sync_search, methods=["POST"]),
            Route("/registry/subscribe", subscribe, methods=["POST"]),
            Route("/_simulator/deaths", deaths, methods=["POST"]),
            Route("/_simulator/faults", set_faults, methods=["POST"]),
            Route("/_simulator/sent", sent, methods=["GET"]),
            Route("/_simulator/stats", stats, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.simulator = state
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("registry", type=Path, nargs="?", help="Registry CSV (load-registry format)")
    parser.add_argument("--synthetic", type=int, help="Generate this many people instead of reading a CSV")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--sender-id", default="civilregistry.kaltimprov.go.id")
    parser.add_argument("--key-id", default="1")
    options = parser.parse_args()
    if (options.registry is None) == (options.synthetic is None):
        parser.error("give a registry CSV or --synthetic N")
    seed = os.environ.get("PAYUNG_DCI_SIM_KEY")
    if not seed:
        parser.error("set PAYUNG_DCI_SIM_KEY (the simulator's Ed25519 seed, base64)")
    clients = json.loads(os.environ.get("PAYUNG_DCI_SIM_CLIENT_KEYS", "{}"))
    rows = read_registry(options.registry) if options.registry else synthetic_registry(options.synthetic, options.seed)
    signer = dci.Signer.from_seed(options.sender_id, options.key_id, seed)
    app = create_simulator(rows, signer, dci.Verifier.from_config(clients))
    uvicorn.run(app, host=options.host, port=options.port, log_level="warning")


if __name__ == "__main__":
    main()
