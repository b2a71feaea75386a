"""The benchmark: ``python -m bench.run [--nominations 150000] [--rate 200]`` (see docs/PERFORMANCE.md).

On its own stack instance (``.stack/bench``, ports 25xxx unless ``PAYUNG_*`` say otherwise; never the developer's
``.stack/local``), with fresh databases and a fresh topic prefix per run:

0. baseline: one plain Kafka -> PostgreSQL -> Kafka hop over as many records (bench/baseline.py);
1. throughput: N generated nominations submitted in bulk (``POST /v1/nominations:batch``, 1000 per request, the
   nomination service's own transaction + outbox path), timed from the first submission to the moment the last one
   was told (the ``notified`` / ``notification_failed`` stage's ``recorded_at`` in the nomination database);
2. HTTP submission capacity: single ``POST /v1/nominations`` as fast as 32 concurrent clients go;
3. latency: single POSTs at a fixed offered rate; latency = told ``recorded_at`` minus the moment the 202 arrived.

All the while: peak RSS and CPU per process (psutil), maximum consumer lag per group (committed vs end offsets).
Results: bench/results/<timestamp>.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from pydantic import Field
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from bench.baseline import run_baseline
from bench.probe import LagSampler, ResourceSampler, stack_pids, tree_cpu_seconds
from bench.profile import Profiler
from deploy.native import apikeys, postgres, stack
from deploy.native.config import REPO_ROOT, SERVICES, StackConfig
from deploy.ops.demo import _load_registry
from tools.synthetic import generate_nominations, generate_registry, programme_today, summary, write_registry

REGENCY = "64.08"
RESULTS = REPO_ROOT / "bench" / "results"
TOLD = ("notified", "notification_failed")


class BenchStackConfig(StackConfig):
    """The benchmark's own instance: same ``PAYUNG_*`` variables as ``./payung up``, other defaults."""

    stack_dir: Path = Field(default_factory=lambda: REPO_ROOT / ".stack" / "bench")
    kafka_port: int = 25092
    kafka_controller_port: int = 25093
    pg_port: int = 25432
    nomination_port: int = 25001
    verification_port: int = 25002
    enrolment_port: int = 25003
    notification_port: int = 25004
    reporting_port: int = 25005


def auth_headers(cfg: StackConfig) -> dict[str, str]:
    """A programme admin's key (it submits for every desa): ``PAYUNG_API_KEY``, else the instance's local key."""
    key = os.environ.get("PAYUNG_API_KEY") or apikeys.ensure_local_keys(cfg.stack_dir)["admin"]
    return {"X-API-Key": key}


def prepare(cfg: StackConfig, people: int) -> tuple[StackConfig, Path]:
    """Infrastructure up, services stopped, databases new, a fresh topic prefix; registry file made once."""
    if cfg.stack_dir.resolve() == (REPO_ROOT / ".stack" / "local").resolve():
        raise SystemExit("refusing to wipe the developer's stack (.stack/local): set PAYUNG_STACK_DIR elsewhere")
    stack.start_infra(cfg)
    stack.stop_services(cfg)
    asyncio.run(_recreate_databases(cfg))
    run_cfg = cfg.model_copy(update={"topic_prefix": f"bench{int(time.time())}."})
    asyncio.run(stack._ensure_topics(run_cfg))
    registry = cfg.stack_dir / "bench" / f"registry-{people}.csv"
    if not registry.exists():
        registry.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        write_registry(generate_registry(people, seed=42, regency=REGENCY, reference_date=programme_today()), registry)
        print(f"  civil registry: {people} synthetic people in {time.monotonic() - t0:.1f} s")
    return run_cfg, registry


async def _recreate_databases(cfg: StackConfig) -> None:
    conn = await asyncpg.connect(stack.database_url(cfg, "postgres"))
    try:
        for name in SERVICES:
            # FORCE may not end an autovacuum worker (it runs as the superuser) still busy with the last run's
            # tables: wait for it rather than fail
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(asyncpg.InsufficientPrivilegeError),
                wait=wait_fixed(2),
                stop=stop_after_delay(120),
                reraise=True,
            ):
                with attempt:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
    await postgres.ensure_role_and_databases(cfg)


# ------------------------------------------------------------------------------------------------- submission
async def submit_batches(
    client: httpx.AsyncClient, requests: list[dict[str, Any]], size: int, concurrency: int
) -> dict[str, Any]:
    codes: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)

    async def one(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            body = {"items": [{"nomination": r} for r in chunk]}
            response = await client.post("/v1/nominations:batch", json=body)
            response.raise_for_status()
            for code, n in response.json()["counts"].items():
                codes[code] = codes.get(code, 0) + n

    await asyncio.gather(*(one(requests[i : i + size]) for i in range(0, len(requests), size)))
    return codes


async def submit_singles(
    client: httpx.AsyncClient, requests: list[dict[str, Any]], concurrency: int, rate: float | None
) -> tuple[dict[int, int], dict[str, float]]:
    """POST one by one; with ``rate``, request i starts at t0 + i / rate (open loop). Returns status counts and
    nomination id -> wall-clock time the 202 arrived."""
    statuses: dict[int, int] = {}
    answered: dict[str, float] = {}
    gate = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async def one(i: int, request: dict[str, Any]) -> None:
        if rate:
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        async with gate:
            response = await client.post("/v1/nominations", json=request)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 202:
            answered[response.json()["nomination_id"]] = time.time()

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    return statuses, answered


async def told_times(pool: asyncpg.Pool, since: datetime, with_submitted: bool = False) -> dict[str, Any]:
    """Nomination id -> wall-clock time its first notified / notification_failed stage was recorded (with
    ``with_submitted``: a pair, the nomination's ``submitted_at`` first, both from the database's clock)."""
    rows = await pool.fetch(
        """
        SELECT h.nomination_id, min(h.recorded_at) AS at, min(n.submitted_at) AS submitted
        FROM nomination_history h JOIN nominations n ON n.id = h.nomination_id
        WHERE h.stage = ANY($1::text[]) AND n.submitted_at >= $2 GROUP BY 1
        """,
        list(TOLD),
        since,
    )
    if with_submitted:
        return {str(r["nomination_id"]): (r["submitted"].timestamp(), r["at"].timestamp()) for r in rows}
    return {str(r["nomination_id"]): r["at"].timestamp() for r in rows}


async def wait_told(pool: asyncpg.Pool, since: datetime, expected: int, timeout: float) -> dict[str, float]:
    """Wait until ``expected`` nominations submitted since ``since`` were told, or wait for a person (manual
    review of a possible duplicate: a verifier decides, the benchmark does not)."""
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        # counts while waiting (this process shares the machine with the stack), the times once at the end
        counts = await pool.fetchrow(
            """
            SELECT (SELECT count(DISTINCT h.nomination_id) FROM nomination_history h
                    JOIN nominations n ON n.id = h.nomination_id
                    WHERE h.stage = ANY($1::text[]) AND n.submitted_at >= $2),
                   (SELECT count(*) FROM nominations WHERE status = 'in_review' AND submitted_at >= $2)
            """,
            list(TOLD),
            since,
        )
        assert counts is not None  # two scalar subqueries: always one row
        told, in_review = counts
        if told != last:
            print(f"    told {told} / {expected} ({in_review} waiting for a reviewer)", flush=True)
            last = told
        if told + in_review >= expected or time.monotonic() > deadline:
            return await told_times(pool, since)
        await asyncio.sleep(2)


def _cpu_snapshot(cfg: StackConfig) -> dict[str, float]:
    """CPU seconds so far of every stack process (PostgreSQL with its backends) and of this load generator."""
    me = psutil.Process().cpu_times()  # this process only: py-spy (--profile) runs as its child and is not counted
    snapshot = {"bench_client": me.user + me.system}
    for name, pid in stack_pids(cfg).items():
        with contextlib.suppress(psutil.Error):
            snapshot[name] = tree_cpu_seconds(psutil.Process(pid))
    return snapshot


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "p99": round(q[98], 3), "max": round(max(values), 3)}


# ------------------------------------------------------------------------------------------------------ main
async def measure(
    cfg: StackConfig, args: argparse.Namespace, batches: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    pool = await asyncpg.create_pool(stack.database_url(cfg, "nomination"), min_size=1, max_size=2)
    resources = ResourceSampler(cfg)
    lag = LagSampler(cfg.kafka_bootstrap, cfg.topic_prefix)
    base = f"http://{cfg.host}:{cfg.nomination_port}"
    try:
        if not args.skip_baseline:
            print("==> baseline: Kafka -> PostgreSQL -> Kafka, no domain logic", flush=True)
            value_size = len(json.dumps(batches["throughput"][0])) + 400  # the envelope around the request
            result["baseline"] = await run_baseline(
                cfg.kafka_bootstrap,
                stack.database_url(cfg, "verification"),
                cfg.topic_prefix,
                len(batches["throughput"]),
                value_size,
                500,
                {k: v for k, v in stack_pids(cfg).items() if k in ("kafka", "postgres")},
            )
            print(f"    {result['baseline']}", flush=True)
        resources.start()
        lag.start()
        async with httpx.AsyncClient(base_url=base, timeout=120, headers=auth_headers(cfg)) as client:
            print(f"==> throughput: {len(batches['throughput'])} nominations in batches of {args.batch}", flush=True)
            since = datetime.now(UTC)
            profiler = None
            if args.profile:
                pids = {s.name: s.pid for s in stack.status(cfg) if s.pid}
                profiler = Profiler.attach(pids, RESULTS / "profiles" / f"{since:%Y%m%dT%H%M%SZ}")
            cpu_at_start = _cpu_snapshot(cfg)
            t_first = time.time()
            codes = await submit_batches(client, batches["throughput"], args.batch, args.concurrency)
            t_submitted = time.time()
            accepted = codes.get("ACCEPTED", 0)
            print(f"    submitted in {t_submitted - t_first:.1f} s: {codes}", flush=True)
            told = await wait_told(pool, since, accepted, args.timeout)
            if profiler is not None:
                summaries = profiler.stop()
                result["profiles"] = {name: str(path.relative_to(REPO_ROOT)) for name, path in summaries.items()}
                print(f"    profiles: {result['profiles']}", flush=True)
            t_last = max(told.values()) if told else time.time()
            cpu = {k: round(v - cpu_at_start.get(k, 0.0), 1) for k, v in _cpu_snapshot(cfg).items()}
            result["throughput"] = {
                "mode": "bulk POST /v1/nominations:batch",
                "submitted": len(batches["throughput"]),
                "answers": codes,
                "accepted": accepted,
                "told": len(told),
                "in_manual_review": accepted - len(told),
                "submission_seconds": round(t_submitted - t_first, 2),
                "end_to_end_seconds": round(t_last - t_first, 2),
                "per_s": round(len(told) / (t_last - t_first), 1),
                # CPU seconds per component over the phase, and the stack's total per nomination told (the load
                # generator, this process, is reported apart: it shares the machine but is not the product)
                "cpu_seconds": cpu,
                "stack_cpu_ms_per_nomination": round(
                    1000 * sum(v for k, v in cpu.items() if k != "bench_client") / max(1, len(told)), 2
                ),
            }
            if "baseline" in result:
                result["throughput"]["ratio_to_baseline_hop"] = round(
                    result["throughput"]["per_s"] / result["baseline"]["hop_per_s"], 3
                )
            print(f"    {result['throughput']}", flush=True)

            if batches["http"]:
                print(f"==> HTTP capacity: {len(batches['http'])} single POSTs, 32 concurrent", flush=True)
                t0 = time.monotonic()
                statuses, _ = await submit_singles(client, batches["http"], 32, None)
                elapsed = time.monotonic() - t0
                result["http_capacity"] = {"statuses": statuses, "per_s": round(len(batches["http"]) / elapsed, 1)}
                print(f"    {result['http_capacity']}", flush=True)
                await wait_told(pool, since, statuses.get(202, 0) + accepted, args.timeout)

            if batches["latency"]:  # --latency-seconds 0: no latency phase
                print(f"==> latency: {len(batches['latency'])} single POSTs at {args.rate}/s", flush=True)
                since = datetime.now(UTC)
                cpu_at_start = _cpu_snapshot(cfg)
                t_offer = time.monotonic()
                statuses, answered = await submit_singles(client, batches["latency"], 64, args.rate)
                t_offered = time.monotonic() - t_offer
                await wait_told(pool, since, len(answered), args.timeout)
                cpu = {k: v - cpu_at_start.get(k, 0.0) for k, v in _cpu_snapshot(cfg).items() if k != "bench_client"}
                pairs = await told_times(pool, since, with_submitted=True)
                client_side = [pairs[n][1] - t for n, t in answered.items() if n in pairs]
                server_side = [at - submitted for submitted, at in pairs.values()]
                result["latency"] = {
                    "offered_rate_per_s": args.rate,
                    "submitted": len(batches["latency"]),
                    "achieved_submit_rate_per_s": round(len(batches["latency"]) / t_offered, 1),
                    "statuses": statuses,
                    "measured": len(server_side),
                    "seconds": percentiles(server_side),
                    "from": "nominations.submitted_at (the submitting transaction; nomination database clock)",
                    "to": "first notified/notification_failed history row recorded_at (nomination database clock)",
                    "client_202_to_told_seconds": percentiles(client_side),
                    # one nomination per request and small batches downstream: compare with the throughput phase's
                    "stack_cpu_ms_per_nomination": round(1000 * sum(cpu.values()) / max(1, len(answered)), 2),
                }
                print(f"    {result['latency']}", flush=True)
    finally:
        result["max_consumer_lag"] = await lag.stop()
        result["resources"] = {k: vars(v) for k, v in resources.stop().items()} if resources._thread.is_alive() else {}
        await pool.close()
    return result


def machine() -> dict[str, Any]:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "loadavg_before": os.getloadavg(),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nominations", type=int, default=150_000, help="throughput phase size")
    parser.add_argument("--rate", type=float, default=200, help="offered rate of the latency phase, per second")
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument("--http-probe", type=int, default=3000, help="single POSTs to measure HTTP capacity (0: no)")
    parser.add_argument("--people", type=int, default=300_000, help="size of the synthetic civil registry")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="batch requests in flight")
    parser.add_argument("--timeout", type=float, default=1800, help="max seconds to wait for a phase to drain")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy every service during the throughput phase (bench/profile.py)"
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the instance running afterwards (default: stopped)"
    )
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    for noisy in ("aiokafka", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    info = machine()
    base = BenchStackConfig()
    try:
        cfg, registry = prepare(base, args.people)
        stack.start_services(cfg)
        _load_registry(cfg, registry)
        latency_n = int(args.rate * args.latency_seconds)
        t0 = time.monotonic()
        items = list(
            generate_nominations(
                registry,
                args.nominations + args.http_probe + latency_n,
                seed=11,
                regency=REGENCY,
                reference_date=programme_today(),
            )
        )
        print(f"  nominations generated in {time.monotonic() - t0:.1f} s; mix {dict(summary(items))}")
        requests = [i.request for i in items]
        batches = {
            "throughput": requests[: args.nominations],
            "http": requests[args.nominations : args.nominations + args.http_probe],
            "latency": requests[args.nominations + args.http_probe :],
        }
        result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine": info, "args": vars(args)}
        result.update(asyncio.run(measure(cfg, args, batches)))
        save_results(result)
        print(markdown(result))
    finally:
        stop_unless_kept(base, args.keep_running)


def save_results(result: dict[str, Any], suffix: str = "") -> Path:
    """Stamp the load average at the end and write ``bench/results/<timestamp><suffix>.json``."""
    result["machine"]["loadavg_after"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}{suffix}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nresults: {out.relative_to(REPO_ROOT)}")
    return out


def stop_unless_kept(cfg: StackConfig, keep_running: bool) -> None:
    """A benchmark's whole stack (Kafka, PostgreSQL, the services) is stopped unless asked to stay."""
    if keep_running:
        print(f"  stack kept running in {cfg.stack_dir} (./payung down with PAYUNG_STACK_DIR to stop it)")
    else:
        stack.stop_services(cfg)
        stack.stop_infra(cfg)


def markdown(r: dict[str, Any]) -> str:
    t, lat, b = r.get("throughput", {}), r.get("latency", {}), r.get("baseline", {})
    lines = [
        "| measure | value |",
        "| --- | --- |",
        f"| end to end ({t.get('mode')}) | {t.get('told')} told in {t.get('end_to_end_seconds')} s = "
        f"{t.get('per_s')}/s |",
        f"| baseline hop (Kafka -> PG -> Kafka) | {b.get('hop_per_s')}/s |",
        f"| pipeline / baseline hop | {t.get('ratio_to_baseline_hop')} |",
        f"| CPU per nomination (all stack processes) | {t.get('stack_cpu_ms_per_nomination')} ms |",
        f"| CPU per record of the baseline hop | {b.get('hop_cpu_ms_per_record')} ms |",
        f"| HTTP single POST capacity | {r.get('http_capacity', {}).get('per_s')}/s |",
        f"| latency at {lat.get('offered_rate_per_s')}/s | {lat.get('seconds')} |",
    ]
    for name, u in sorted(r.get("resources", {}).items()):
        lines.append(
            f"| {name} peak RSS / CPU s / peak CPU % | {u['peak_rss_mb']:.0f} MB / {u['cpu_seconds']:.0f} s"
            f" / {u['peak_cpu_percent']:.0f} % |"
        )
    lines.append(f"| max consumer lag | {r.get('max_consumer_lag')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
