"""The fault suite: ``python -m bench.faults [--nominations 20000]`` (see docs/RELIABILITY.md).

On the benchmark's stack instance (fresh databases and topic prefix), submits N generated nominations in small
bulk requests (each item with its own Idempotency-Key, retried through every failure, as a careful client does)
while, one after the other: each service is SIGKILLed and restarted, the Kafka broker is stopped and restarted,
PostgreSQL is restarted. Then waits for the pipeline to drain and checks the invariants (bench/checks.py) from the
databases and the topics. Small quotas, so that the waitlist and the quota limit are exercised too.
Exit code 0 only when no invariant is broken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.checks import check
from bench.run import REGENCY, RESULTS, BenchStackConfig, auth_headers, prepare
from deploy import kafka, postgres, stack
from deploy.config import REPO_ROOT, SERVICES, StackConfig
from deploy.demo import _load_registry
from tools.synthetic import generate_nominations

FUNDING = [
    {"code": "APBD-KAB", "name": "APBD Kabupaten", "quota": 3000, "priority": 1, "premium_idr": 16800},
    {"code": "APBD-PROV", "name": "APBD Provinsi", "quota": 1000, "priority": 2, "premium_idr": 16800},
]
ENV = {"PAYUNG_FUNDING_SOURCES": json.dumps(FUNDING), "PAYUNG_OUTBOX_POLL_INTERVAL_S": "0.5"}
_KEYS = uuid.UUID("0c8d7a3e-5b0f-4d59-9a43-5041594e4641")


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


FAULTS: list[tuple[str, Any]] = [
    *[(f"SIGKILL {s}", lambda cfg, s=s: kill_and_restart(cfg, s)) for s in SERVICES],
    ("Kafka broker stopped 10 s", lambda cfg: restart_kafka(cfg, 10)),
    ("PostgreSQL stopped 5 s", lambda cfg: restart_postgres(cfg, 5)),
]
NOT_INJECTED = [
    "civil registry endpoint failing/hanging: the committed verification service reads a loaded snapshot, no HTTP "
    "adapter to break (an HTTP registry adapter is being added by another issue)",
    "BPJS endpoint failing/hanging: the committed enrolment service issues membership numbers locally "
    "(LocalNumberIssuer), no HTTP adapter to break",
]


async def submit_all(cfg: StackConfig, requests: list[dict], batch: int, answers: dict[int, dict]) -> None:
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
            await asyncio.sleep(0.2)  # a stream over time, so that the faults land in the middle of it


async def inject(cfg: StackConfig, answers: dict[int, dict], total: int, log: list[dict]) -> None:
    for i, (name, fault) in enumerate(FAULTS):
        mark = total * (i + 1) // (len(FAULTS) + 2)
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
                pending = await conn.fetchval("SELECT count(*) FROM nominations WHERE outcome IS NULL")
                told = await conn.fetchval(
                    "SELECT count(DISTINCT nomination_id) FROM nomination_history "
                    "WHERE stage IN ('notified', 'notification_failed')"
                )
            finally:
                await conn.close()
            print(f"  waiting: {pending} without outcome, {told} / {accepted} told", flush=True)
            if pending == 0 and told >= accepted:
                return
        except Exception as exc:
            print(f"  waiting: {type(exc).__name__}", flush=True)
        await asyncio.sleep(3)


async def run(cfg: StackConfig, requests: list[dict], batch: int, timeout: float) -> dict[str, Any]:
    answers: dict[int, dict] = {}
    log: list[dict] = []
    t0 = time.monotonic()
    await asyncio.gather(submit_all(cfg, requests, batch, answers), inject(cfg, answers, len(requests), log))
    codes: dict[str, int] = {}
    for r in answers.values():
        codes[r["code"]] = codes.get(r["code"], 0) + 1
    accepted = {uuid.UUID(r["nomination_id"]) for r in answers.values() if r["status"] == 202}
    print(f"  submitted: {codes}", flush=True)
    await wait_drained(cfg, len(accepted), timeout)
    db = {name: stack.database_url(cfg, name) for name in SERVICES}
    figures = await check(db, cfg.kafka_bootstrap, cfg.topic_prefix, accepted)
    return {"answers": codes, "faults": log, "seconds": round(time.monotonic() - t0, 1), "figures": figures}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nominations", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=1200)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    for noisy in ("aiokafka", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg, registry = prepare(BenchStackConfig(), args.people)
    stack.start_services(cfg, ENV)
    _load_registry(cfg, registry)
    requests = [n.request for n in generate_nominations(registry, args.nominations, seed=5, regency=REGENCY)]
    result = {"started_at": datetime.now(UTC).isoformat(), "args": vars(args), "not_injected": NOT_INJECTED}
    result.update(asyncio.run(run(cfg, requests, args.batch, args.timeout)))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"faults-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result["figures"], indent=2, default=str))
    print(f"results: {out.relative_to(REPO_ROOT)}")
    violations = result["figures"]["violations"]
    print("ALL INVARIANTS HOLD" if not violations else f"VIOLATIONS: {violations}")
    raise SystemExit(1 if violations else 0)


if __name__ == "__main__":
    main()
