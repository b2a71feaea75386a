"""Reads at scale: ``python -m bench.reads [--nominations 500000]`` (see docs/PERFORMANCE.md, issue 17).

On the benchmark's own stack instance (as ``bench.run``: ``.stack/bench``, ports 25xxx unless ``PAYUNG_*`` say
otherwise; fresh databases), the services started and migrated, then:

1. fill: N nominations written straight into the nomination service's tables and reporting's read model with COPY
   (bench/reads_fill.py says which rows and why not through the pipeline), then ``VACUUM ANALYZE``;
2. GET /v1/nominations/{id} for random filled ids (a programme admin's key), ``--gets`` requests, 8 in flight;
3. the dashboard page (``GET /`` of reporting) and ``GET /v1/reports/coverage``, ``--pages`` requests, 4 in flight.

A few requests of each warm up first (not counted). Prints p50/p95/p99/max per endpoint, the row counts, every
service's database size (and per 100,000 nominations), the load average; writes bench/results/<ts>-reads.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from bench.reads_fill import fill, make_pool
from bench.run import BenchStackConfig, _recreate_databases, auth_headers, machine, save_results, stop_unless_kept
from deploy.native import stack
from deploy.native.config import REPO_ROOT, SERVICES, StackConfig
from services.reporting import repository as reporting_sql

TABLES = {"nomination": ("nominations", "nomination_history", "audit_log"), "reporting": ("report_nominations",)}


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max in milliseconds (inclusive quantiles, as bench.run's), and the count."""
    ms = [1000 * s for s in seconds]
    if len(ms) < 2:
        return {"n": len(ms), **({"max": round(ms[0], 2)} if ms else {})}
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50": round(q[49], 2),
        "p95": round(q[94], 2),
        "p99": round(q[98], 2),
        "max": round(max(ms), 2),
    }


def per_100k(size_bytes: int, nominations: int) -> float:
    """Megabytes per 100,000 nominations."""
    return round(size_bytes / 2**20 * 100_000 / max(1, nominations), 1)


async def timed_gets(
    client: httpx.AsyncClient, paths: Sequence[str], concurrency: int
) -> tuple[list[float], dict[int, int]]:
    """GET every path, ``concurrency`` in flight; the seconds each took and the status counts."""
    gate = asyncio.Semaphore(concurrency)
    took: list[float] = []
    statuses: dict[int, int] = {}

    async def one(path: str) -> None:
        async with gate:
            t0 = time.perf_counter()
            response = await client.get(path)
            await response.aread()
            took.append(time.perf_counter() - t0)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    await asyncio.gather(*(one(p) for p in paths))
    return took, statuses


async def endpoint(
    base: str, headers: dict[str, str], paths: Sequence[str], concurrency: int, warm: int = 10
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        await timed_gets(client, paths[:warm], 1)
        t0 = time.monotonic()
        took, statuses = await timed_gets(client, paths, concurrency)
        elapsed = time.monotonic() - t0
    return {
        "requests": len(paths),
        "concurrency": concurrency,
        "statuses": statuses,
        "ms": latency_summary(took),
        "per_s": round(len(paths) / elapsed, 1),
        "loadavg": os.getloadavg(),
    }


async def counts_and_sizes(cfg: StackConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": {}, "db_bytes": {}}
    for service, tables in TABLES.items():
        conn = await asyncpg.connect(stack.database_url(cfg, service))
        try:
            for table in tables:
                out["rows"][table] = await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - constants
        finally:
            await conn.close()
    conn = await asyncpg.connect(stack.database_url(cfg, "postgres"))
    try:
        for name in SERVICES:
            out["db_bytes"][name] = await conn.fetchval("SELECT pg_database_size($1)", name)
    finally:
        await conn.close()
    n = out["rows"]["nominations"]
    out["db_mb_per_100k"] = {name: per_100k(size, n) for name, size in out["db_bytes"].items()}
    return out


async def vacuum(cfg: StackConfig) -> float:
    t0 = time.monotonic()
    for service in TABLES:
        conn = await asyncpg.connect(stack.database_url(cfg, service))
        try:
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
    return round(time.monotonic() - t0, 1)


def dashboard_queries(year: int) -> dict[str, Any]:
    """The reporting repository's reads the dashboard page makes (each whole-programme: no area), by name."""
    return {
        "status_counts": lambda c: reporting_sql.status_counts(c, None),
        "notification_totals": lambda c: reporting_sql.notification_totals(c, None),
        "per_day (3 queries)": lambda c: reporting_sql.per_day(c, None),
        "by_area kecamatan": lambda c: reporting_sql.by_area(c, "kecamatan"),
        "by_area desa": lambda c: reporting_sql.by_area(c, "desa"),
        "by_occupation": lambda c: reporting_sql.by_occupation(c, None),
        "active_by_source": lambda c: reporting_sql.active_by_source(c, year),
        "rejection_reasons": lambda c: reporting_sql.rejection_reasons(c, 10, None),
        "nominations_by_occupation": lambda c: reporting_sql.nominations_by_occupation(c),
        "nominations_by_desa": lambda c: reporting_sql.nominations_by_desa(c),
        "source_history (2 queries)": lambda c: reporting_sql.source_history(c, year),
        "objection_rows": lambda c: reporting_sql.objection_rows(c, None),
    }


async def query_timings(cfg: StackConfig, repeat: int = 3) -> dict[str, float]:
    """Milliseconds (median of ``repeat``) of each SQL read of the dashboard, run alone on the filled database."""
    conn = await asyncpg.connect(stack.database_url(cfg, "reporting"))
    out: dict[str, float] = {}
    try:
        for name, call in dashboard_queries(datetime.now(UTC).year).items():
            took = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await call(conn)
                took.append(1000 * (time.perf_counter() - t0))
            out[name] = round(statistics.median(took), 1)
    finally:
        await conn.close()
    return out


async def sample_ids(cfg: StackConfig, k: int, seed: int = 5) -> list[uuid.UUID]:
    """``k`` random filled nomination ids (with repeats when there are fewer)."""
    conn = await asyncpg.connect(stack.database_url(cfg, "nomination"))
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM nominations")]
    finally:
        await conn.close()
    rng = random.Random(seed)
    return [rng.choice(ids) for _ in range(k)]


async def measure(cfg: StackConfig, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    secret = stack.service_env(cfg, "nomination")["PAYUNG_PERSON_KEY_SECRET"]
    if args.nominations:
        t0 = time.monotonic()
        pool = make_pool(args.pool, cfg.stack_dir / "bench")
        t_pool = time.monotonic() - t0
        print(f"  pool of {len(pool)} synthetic requests in {t_pool:.1f} s", flush=True)
        t0 = time.monotonic()
        written = await fill(
            stack.database_url(cfg, "nomination"), stack.database_url(cfg, "reporting"), pool, args.nominations, secret
        )
        result["fill"] = {
            "how": "synthetic COPY into the read models (bench/reads_fill.py), not the pipeline",
            "pool": len(pool),
            "pool_seconds": round(t_pool, 1),
            "rows": written,
            "seconds": round(time.monotonic() - t0, 1),
            "loadavg": os.getloadavg(),
        }
        print(f"  fill: {result['fill']}", flush=True)
        result["vacuum_analyze_seconds"] = await vacuum(cfg)
    result.update(await counts_and_sizes(cfg))
    headers = auth_headers(cfg)
    ids = await sample_ids(cfg, args.gets)
    nomination = f"http://{cfg.host}:{cfg.nomination_port}"
    reporting = f"http://{cfg.host}:{cfg.service_port('reporting')}"
    print(f"==> GET /v1/nominations/{{id}}: {args.gets} requests, {args.get_concurrency} in flight", flush=True)
    paths = [f"/v1/nominations/{i}" for i in ids]
    result["get_nomination"] = await endpoint(nomination, headers, paths, args.get_concurrency)
    print(f"    {result['get_nomination']}", flush=True)
    for name, path in (("dashboard_page", "/"), ("coverage_report", "/v1/reports/coverage")):
        print(f"==> GET {path} (reporting): {args.pages} requests, {args.page_concurrency} in flight", flush=True)
        result[name] = await endpoint(reporting, headers, [path] * args.pages, args.page_concurrency, warm=3)
        print(f"    {result[name]}", flush=True)
    if args.query_timings:
        print("==> the dashboard's SQL, one query at a time", flush=True)
        result["dashboard_sql_ms"] = await query_timings(cfg)
        result["dashboard_sql_loadavg"] = os.getloadavg()
        print(f"    {result['dashboard_sql_ms']}", flush=True)
    return result


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "| endpoint | requests (in flight) | p50 | p95 | p99 | max (ms) | statuses | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("get_nomination", "GET /v1/nominations/{id}"),
        ("dashboard_page", "GET / (dashboard page)"),
        ("coverage_report", "GET /v1/reports/coverage"),
    ):
        e = r.get(name)
        if e:
            ms, load = e["ms"], ", ".join(f"{x:.1f}" for x in e["loadavg"])
            lines.append(
                f"| {label} | {e['requests']} ({e['concurrency']}) | {ms.get('p50')} | {ms.get('p95')} |"
                f" {ms.get('p99')} | {ms.get('max')} | {e['statuses']} | {load} |"
            )
    lines += ["", "| rows | " + " | ".join(r.get("rows", {})) + " |", "|---|" + "---|" * len(r.get("rows", {}))]
    lines.append("| | " + " | ".join(f"{v:,}" for v in r.get("rows", {}).values()) + " |")
    sizes = r.get("db_bytes", {})
    lines += ["", "| database | size MB | MB per 100,000 nominations |", "|---|---|---|"]
    lines += [f"| {k} | {v / 2**20:.1f} | {r['db_mb_per_100k'][k]} |" for k, v in sizes.items()]
    if r.get("dashboard_sql_ms"):
        lines += ["", "| dashboard SQL (alone) | ms |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in r["dashboard_sql_ms"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nominations", type=int, default=500_000, help="nominations to fill (0: measure as is)")
    parser.add_argument("--pool", type=int, default=20_000, help="synthetic requests the fill reuses with new NIKs")
    parser.add_argument("--gets", type=int, default=2000, help="GET /v1/nominations/{id} requests")
    parser.add_argument("--get-concurrency", type=int, default=8, help="GETs of a nomination in flight")
    parser.add_argument("--pages", type=int, default=200, help="requests of each dashboard endpoint")
    parser.add_argument("--page-concurrency", type=int, default=4, help="dashboard requests in flight")
    parser.add_argument("--query-timings", action="store_true", help="also time each SQL read of the dashboard alone")
    parser.add_argument("--keep-running", action="store_true", help="leave the instance running afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the running instance's databases (with --nominations 0: re-measure)"
    )
    args = parser.parse_args(argv)
    info = machine()
    cfg = BenchStackConfig()
    if cfg.stack_dir.resolve() == (REPO_ROOT / ".stack" / "local").resolve():
        raise SystemExit("refusing to wipe the developer's stack (.stack/local): set PAYUNG_STACK_DIR elsewhere")
    try:
        stack.start_infra(cfg)
        stack.stop_services(cfg)
        if not args.reuse:
            asyncio.run(_recreate_databases(cfg))
        run_cfg = cfg.model_copy(update={"topic_prefix": f"reads{int(time.time())}."})
        asyncio.run(stack._ensure_topics(run_cfg))
        stack.start_services(run_cfg)
        result: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(), "machine": info, "args": vars(args)}
        result.update(asyncio.run(measure(run_cfg, args)))
        save_results(result, "-reads")
        print(markdown(result))
    finally:
        stop_unless_kept(cfg, args.keep_running)


if __name__ == "__main__":
    main()
