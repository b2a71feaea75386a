"""The fault suite: ``python -m bench.faults [--nominations 20000]`` (see docs/RELIABILITY.md).

On the benchmark's stack instance (fresh databases and topic prefix), submits N generated nominations in small
bulk requests (each item with its own Idempotency-Key, retried through every failure, as a careful client does)
while, one after the other: each service is SIGKILLed and restarted, the Kafka broker is stopped and restarted,
PostgreSQL is restarted, the civil-registry web service answers 503 and then hangs, the BPJS registration service
answers 503 and then hangs. Verification talks to the civil registry over HTTP (``registry_http``) and enrolment to
BPJS over HTTP (``bpjs.HttpBpjsClient``), each against its named simulator run as a separate process and told to
misbehave through its ``/_simulator/faults`` endpoint. Then waits for the pipeline to drain and checks the
invariants (bench/checks.py) from the databases, the topics and the BPJS simulator's own count of registrations.
Small quotas, so that the waitlist and the quota limit are exercised too. Exit code 0 only when no invariant is
broken.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.checks import check
from bench.run import REGENCY, RESULTS, BenchStackConfig, auth_headers, prepare
from deploy.native import kafka, postgres, procs, stack
from deploy.native.config import REPO_ROOT, SERVICES, StackConfig
from deploy.ops.demo import _load_registry
from tools.synthetic import Nomination, generate_nominations, programme_today

FUNDING = [
    {"code": "APBD-KAB", "name": "APBD Kabupaten", "quota": 3000, "priority": 1, "premium_idr": 16800},
    {"code": "APBD-PROV", "name": "APBD Provinsi", "quota": 1000, "priority": 2, "premium_idr": 16800},
]
_KEYS = uuid.UUID("0c8d7a3e-5b0f-4d59-9a43-5041594e4641")
# the simulators' ports (the CI's short run moves them next to its own instance)
REGISTRY_SIM_PORT = int(os.environ.get("PAYUNG_FAULTS_REGISTRY_SIM_PORT", "25090"))
BPJS_SIM_PORT = int(os.environ.get("PAYUNG_FAULTS_BPJS_SIM_PORT", "25091"))
_SIM_USER, _SIM_PASSWORD, _SIM_TOKEN = "payung", "fault-suite", "fault-suite-token"
ENV = {
    "PAYUNG_FUNDING_SOURCES": json.dumps(FUNDING),
    "PAYUNG_OUTBOX_POLL_INTERVAL_S": "0.5",
    # verification asks the civil registry over HTTP; timeouts, breaker and pending retries shortened to the run
    "PAYUNG_REGISTRY_ADAPTER": "http",
    "PAYUNG_REGISTRY_URL": f"http://127.0.0.1:{REGISTRY_SIM_PORT}",
    "PAYUNG_REGISTRY_USER": _SIM_USER,
    "PAYUNG_REGISTRY_PASSWORD": _SIM_PASSWORD,
    "PAYUNG_REGISTRY_TIMEOUT_S": "2",
    "PAYUNG_REGISTRY_RATE_PER_S": "2000",
    "PAYUNG_REGISTRY_BURST": "200",
    "PAYUNG_REGISTRY_CONCURRENCY": "16",
    "PAYUNG_REGISTRY_BREAKER_RESET_S": "3",
    "PAYUNG_PENDING_POLL_S": "2",
    "PAYUNG_PENDING_RETRY_BASE_S": "3",
    "PAYUNG_PENDING_RETRY_MAX_S": "20",
    # enrolment registers seats at BPJS over HTTP; a short timeout and small rounds keep the registrar's lease short
    "PAYUNG_BPJS_ADAPTER": "http",
    "PAYUNG_BPJS_URL": f"http://127.0.0.1:{BPJS_SIM_PORT}",
    "PAYUNG_BPJS_TOKEN": _SIM_TOKEN,
    "PAYUNG_BPJS_TIMEOUT_S": "1",
    "PAYUNG_BPJS_BACKOFF_S": "0.1",
    "PAYUNG_BPJS_RETRY_DELAY_S": "2",
    "PAYUNG_BPJS_REGISTRAR_INTERVAL_S": "0.5",
    "PAYUNG_BPJS_REGISTRAR_BATCH": "10",
}


def restart_kafka(cfg: StackConfig, down_s: float) -> None:
    kafka.stop(cfg)
    time.sleep(down_s)  # an outage of some length, not a blip
    pid = kafka.start(cfg)
    stack._run_async(kafka.wait_ready(cfg, pid, 120))


def restart_postgres(cfg: StackConfig, down_s: float) -> None:
    postgres.stop(cfg)
    time.sleep(down_s)
    postgres.start(cfg)


def kill_and_restart(cfg: StackConfig, service: str) -> None:
    stack.kill_service(cfg, service, signal.SIGKILL)
    stack.start_service(cfg, service, ENV)


def start_simulators(cfg: StackConfig, registry: Path) -> list[int]:
    """The civil-registry and BPJS simulators as processes of their own (logs and pids under the stack dir)."""
    run, logs = cfg.stack_dir / "run", cfg.stack_dir / "logs"
    commands = {
        "registry-simulator": [
            sys.executable, "-m", "simulators.registry_http", str(registry),
            "--port", str(REGISTRY_SIM_PORT), "--user", _SIM_USER, "--password", _SIM_PASSWORD,
        ],
        "bpjs-simulator": [
            sys.executable, "-m", "uvicorn", "simulators.bpjs:create", "--factory",
            "--port", str(BPJS_SIM_PORT), "--log-level", "warning",
        ],
    }  # fmt: skip
    pids = []
    for name, cmd in commands.items():
        pid = procs.running_pid(run / f"{name}.pid", marker=cmd[2])
        if pid is not None:
            procs.terminate(pid, 10)
        env = {**os.environ, "PAYUNG_BPJS_SIM_TOKEN": _SIM_TOKEN}
        pids.append(
            procs.spawn(cmd, log_path=logs / f"{name}.log", pid_file=run / f"{name}.pid", env=env, cwd=REPO_ROOT)
        )
    for port in (REGISTRY_SIM_PORT, BPJS_SIM_PORT):
        deadline = time.monotonic() + 60
        while not procs.port_open("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise SystemExit(f"simulator on port {port} did not start (see {logs})")
            time.sleep(0.2)
    return pids


def endpoint_fault(port: int, faults: dict[str, Any], seconds: float) -> None:
    """Tell a simulator to misbehave for ``seconds``, then to behave again."""
    url = f"http://127.0.0.1:{port}/_simulator/faults"
    httpx.post(url, json=faults, timeout=10).raise_for_status()
    time.sleep(seconds)
    httpx.post(url, json={}, timeout=10).raise_for_status()


def _endpoint_faults(seconds: float) -> list[tuple[str, Any]]:
    faults = [
        ("civil registry answers 503", REGISTRY_SIM_PORT, {"down": True}),
        ("civil registry hangs (30 s an answer)", REGISTRY_SIM_PORT, {"delay_s": 30}),
        ("BPJS answers 503", BPJS_SIM_PORT, {"down": True}),
        ("BPJS hangs (30 s an answer)", BPJS_SIM_PORT, {"delay_s": 30}),
    ]
    return [
        (f"{name} for {seconds:.0f} s", lambda _cfg, port=port, how=how: endpoint_fault(port, how, seconds))
        for name, port, how in faults
    ]


def _interleaved(*lists: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [fault for group in itertools.zip_longest(*lists) for fault in group if fault is not None]


FAULTS: list[tuple[str, Any]] = [
    # endpoint outages and service kills alternate, so that both land while nominations are still flowing in
    *_interleaved(
        _endpoint_faults(15), [(f"SIGKILL {s}", lambda cfg, s=s: kill_and_restart(cfg, s)) for s in SERVICES]
    ),
    ("Kafka broker stopped 10 s", lambda cfg: restart_kafka(cfg, 10)),
    ("PostgreSQL stopped 5 s", lambda cfg: restart_postgres(cfg, 5)),
]
# --short (CI): the endpoints briefly, and the two services that call them killed mid-call
SHORT_FAULTS: list[tuple[str, Any]] = [
    *_endpoint_faults(5),
    *[(f"SIGKILL {s}", lambda cfg, s=s: kill_and_restart(cfg, s)) for s in ("verification", "enrolment")],
]


async def submit_all(
    cfg: StackConfig, requests: list[dict[str, Any]], batch: int, answers: dict[int, dict[str, Any]]
) -> None:
    """Bulk requests of ``batch`` items, each item keyed, retried until answered (any transport error or 5xx)."""
    base = f"http://{cfg.host}:{cfg.nomination_port}"
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=auth_headers(cfg)) as client:
        for start in range(0, len(requests), batch):
            items = [
                {"idempotency_key": str(uuid.uuid5(_KEYS, f"{cfg.topic_prefix}{i}")), "nomination": r}
                for i, r in enumerate(requests[start : start + batch], start)
            ]
            while True:
                try:
                    response = await client.post("/v1/nominations:batch", json={"items": items})
                    if response.status_code < 500:
                        response.raise_for_status()
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.5)
            for r in response.json()["results"]:
                answers[start + r["index"]] = r
            await asyncio.sleep(0.5)  # a stream over time, so that the faults land in the middle of it


async def inject(
    cfg: StackConfig,
    answers: dict[int, dict[str, Any]],
    total: int,
    log: list[dict[str, Any]],
    faults: list[tuple[str, Any]],
) -> None:
    for i, (name, fault) in enumerate(faults):
        mark = total * (i + 1) // (len(faults) + 2)
        while len(answers) < mark:  # noqa: ASYNC110  (the submitter fills a plain dict)
            await asyncio.sleep(0.2)
        t0 = time.monotonic()
        print(f"  fault: {name} (after {len(answers)} answers)", flush=True)
        await asyncio.to_thread(fault, cfg)
        log.append({"fault": name, "at_answers": len(answers), "recovered_in_s": round(time.monotonic() - t0, 1)})


async def wait_drained(cfg: StackConfig, accepted: int, timeout: float) -> None:
    import asyncpg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = await asyncpg.connect(stack.database_url(cfg, "nomination"))
            try:
                # a possible duplicate waits for a verifier (no outcome, nobody told): settled for the run
                pending = await conn.fetchval(
                    "SELECT count(*) FROM nominations WHERE outcome IS NULL AND status <> 'in_review'"
                )
                in_review = await conn.fetchval("SELECT count(*) FROM nominations WHERE status = 'in_review'")
                told = await conn.fetchval(
                    "SELECT count(DISTINCT nomination_id) FROM nomination_history "
                    "WHERE stage IN ('notified', 'notification_failed')"
                )
            finally:
                await conn.close()
            print(f"  waiting: {pending} without outcome, {told} / {accepted} told, {in_review} in review", flush=True)
            if pending == 0 and told + in_review >= accepted:
                return
        except Exception as exc:
            print(f"  waiting: {type(exc).__name__}", flush=True)
        await asyncio.sleep(3)


async def outcome_mix(dsn: str) -> Counter[str]:
    """Verification outcomes in the generator's terms: ``accepted`` or ``rejected:<first reason code>``."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT CASE WHEN outcome = 'verified' THEN 'accepted' WHEN outcome = 'in_review' THEN 'review'"
            " ELSE 'rejected:' || (reasons->0->>'code') END AS k,"
            " count(*) AS n FROM verifications GROUP BY 1"
        )
    finally:
        await conn.close()
    return Counter({r["k"]: r["n"] for r in rows})


async def run(
    cfg: StackConfig, items: list[Nomination], batch: int, timeout: float, faults: list[tuple[str, Any]]
) -> dict[str, Any]:
    requests = [item.request for item in items]
    answers: dict[int, dict[str, Any]] = {}
    log: list[dict[str, Any]] = []
    t0 = time.monotonic()
    await asyncio.gather(submit_all(cfg, requests, batch, answers), inject(cfg, answers, len(requests), log, faults))
    codes: dict[str, int] = {}
    for r in answers.values():
        codes[r["code"]] = codes.get(r["code"], 0) + 1
    accepted = {uuid.UUID(r["nomination_id"]) for r in answers.values() if r["status"] == 202}
    print(f"  submitted: {codes}", flush=True)
    await wait_drained(cfg, len(accepted), timeout)
    db = {name: stack.database_url(cfg, name) for name in SERVICES}
    async with httpx.AsyncClient(timeout=10) as client:
        bpjs = (await client.get(f"http://127.0.0.1:{BPJS_SIM_PORT}/_simulator/stats")).json()
        registry = (await client.get(f"http://127.0.0.1:{REGISTRY_SIM_PORT}/_simulator/stats")).json()
    figures = await check(db, cfg.kafka_bootstrap, cfg.topic_prefix, accepted, bpjs=bpjs)
    # Each accepted nomination must end as the generator intended: an outage of the registry may delay a
    # verification, never turn it into a rejection (or a rejection into an acceptance).
    intended = Counter(items[i].expected for i, r in answers.items() if r["status"] == 202)
    actual = await outcome_mix(db["verification"])
    figures["outcomes"] = {"intended": dict(intended), "actual": dict(actual)}
    figures["registry_requests"] = registry["requests"]
    # A possible duplicate (two similar people the generator drew independently) goes to a verifier: the generator
    # cannot foresee fuzzy matches, so a review counts against its "accepted", never against a rejection.
    review = actual.pop("review", 0)
    if intended != actual + Counter({"accepted": review}):
        figures["violations"].append("verification outcomes differ from the generator's intent")
    return {"answers": codes, "faults": log, "seconds": round(time.monotonic() - t0, 1), "figures": figures}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nominations", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--short", action="store_true", help="CI: endpoint faults of 5 s, SIGKILL of two services")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--keep-running", action="store_true", help="leave the instance running afterwards")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    for noisy in ("aiokafka", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg, registry = prepare(BenchStackConfig(), args.people)
    simulators = start_simulators(cfg, registry)
    stack.start_services(cfg, ENV)
    _load_registry(cfg, registry)
    items = list(
        generate_nominations(registry, args.nominations, seed=5, regency=REGENCY, reference_date=programme_today())
    )
    result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "args": vars(args)}
    try:
        faults = SHORT_FAULTS if args.short else FAULTS
        result.update(asyncio.run(run(cfg, items, args.batch, args.timeout, faults)))
    finally:
        for pid in simulators:
            procs.terminate(pid, 10)
        if not args.keep_running:
            stack.stop_services(cfg)
            stack.stop_infra(cfg)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"faults-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result["figures"], indent=2, default=str))
    print(f"results: {out}")
    violations = result["figures"]["violations"]
    print("ALL INVARIANTS HOLD" if not violations else f"VIOLATIONS: {violations}")
    raise SystemExit(1 if violations else 0)


if __name__ == "__main__":
    main()
