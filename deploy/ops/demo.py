"""The demo: a synthetic civil registry and a few thousand synthetic nominations through the running stack.

``./payung up --demo`` (or ``./payung demo`` on a running stack) generates the data (deterministic seeds), loads the
registry snapshot into the verification service, submits the nominations over HTTP the way a bulk import does
(``POST /v1/nominations:batch``, ``BATCH`` items a request, every item answered on its own), waits until every
nomination has reached a final state, and prints the counts. Every item carries a stable Idempotency-Key, so running
the demo twice creates nothing twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer

from deploy.native import apikeys, stack
from deploy.native.config import REPO_ROOT, StackConfig, StackError
from services.reporting.adapters import population_csv
from tools.synthetic import generate_nominations, generate_registry, programme_today, summary, write_registry
from tools.synthetic_registry import read_registry

REGENCY = "64.08"
REGISTRY_PEOPLE = 20_000
NOMINATIONS = 3_000
# Two requests of 500 in flight keep both of a small machine's cores busy without queueing behind each other; single
# POSTs took 82 s for the 3,000 (issue 17).
BATCH = 500
CONCURRENCY = 2
# Small enough that the demo fills them and shows the waitlist; set PAYUNG_FUNDING_SOURCES to use others.
DEMO_FUNDING_SOURCES = (
    '[{"code":"APBD-KAB","name":"APBD Kab. Kutai Timur","quota":1800,"priority":1,"premium_idr":16800},'
    '{"code":"APBD-PROV","name":"APBD Prov. Kaltim","quota":500,"priority":2,"premium_idr":16800}]'
)
_KEYS = uuid.UUID("9b0b5c1e-4a51-4c55-8d0e-5041594e4445")


def run_demo(cfg: StackConfig, nominations: int = NOMINATIONS, people: int = REGISTRY_PEOPLE) -> None:
    workdir = cfg.stack_dir / "demo"
    workdir.mkdir(parents=True, exist_ok=True)
    registry = workdir / f"registry-{people}.csv"
    if not registry.exists():
        t0 = time.monotonic()
        write_registry(generate_registry(people, seed=42, regency=REGENCY, reference_date=programme_today()), registry)
        typer.echo(f"  civil registry: {people} synthetic people in {time.monotonic() - t0:.1f} s")
    _load_registry(cfg, registry)
    _load_population(cfg, registry, workdir / f"population-{people}.csv")
    items = list(generate_nominations(registry, nominations, seed=7, regency=REGENCY, reference_date=programme_today()))
    typer.echo(f"  nominations: {len(items)}, intended mix {dict(summary(items))}")
    answers, final = asyncio.run(_submit_and_follow(cfg, [i.request for i in items]))
    _report(cfg, answers, final)


def _load_registry(cfg: StackConfig, registry: Path) -> None:
    env = {**os.environ, **stack.service_env(cfg, "verification")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "services.verification", "load-registry", str(registry)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"loading the registry failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    typer.echo("  registry snapshot loaded into the verification service")


def eligible_population(registry: Path, today: date) -> list[tuple[str, int]]:
    """Working-age residents (15 to 64 years old, alive) per desa of the synthetic registry: the demo's eligible
    population for the reporting service's forecast (docs/outreach.md)."""
    counts: Counter[str] = Counter()
    for person in read_registry(registry):
        age = today.year - person.tgl_lhr.year - ((today.month, today.day) < (person.tgl_lhr.month, person.tgl_lhr.day))
        if person.status == "HIDUP" and 15 <= age <= 64:
            counts[person.kel_code] += 1
    return sorted(counts.items())


def _load_population(cfg: StackConfig, registry: Path, path: Path) -> None:
    population_csv.write(path, eligible_population(registry, programme_today()))
    env = {**os.environ, **stack.service_env(cfg, "reporting")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "services.reporting", "population", "load", str(path)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"loading the population failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    typer.echo("  eligible population per desa loaded into the reporting service")


async def _submit_and_follow(cfg: StackConfig, requests: list[dict[str, Any]]) -> tuple[Counter[int], dict[str, Any]]:
    base = f"http://{cfg.host}:{cfg.nomination_port}"
    answers: Counter[int] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=_auth(cfg)) as client:

        async def submit(first: int, chunk: list[dict[str, Any]]) -> None:
            items = [
                {"nomination": request, "idempotency_key": str(uuid.uuid5(_KEYS, f"demo-{first + offset}"))}
                for offset, request in enumerate(chunk)
            ]
            async with gate:
                response = await client.post("/v1/nominations:batch", json={"items": items})
            response.raise_for_status()
            for result in response.json()["results"]:
                answers[result["status"]] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(submit(i, requests[i : i + BATCH]) for i in range(0, len(requests), BATCH)))
        elapsed = time.monotonic() - t0
        typer.echo(f"  submitted in {elapsed:.1f} s ({len(requests) / elapsed:.0f}/s); HTTP answers {dict(answers)}")
        return answers, await _wait_until_settled(client)


async def _wait_until_settled(client: httpx.AsyncClient, timeout: float = 300) -> dict[str, Any]:
    """Poll the summary until no nomination is still on its way (submitted or verified, not yet decided)."""
    t0 = time.monotonic()
    last = ""
    while True:
        summary_: dict[str, Any] = (await client.get("/v1/nominations/summary")).json()
        by_status = summary_["by_status"]
        pending = by_status.get("submitted", 0) + by_status.get("verified", 0)
        line = f"  waiting for the pipeline: {by_status}"
        if line != last:
            typer.echo(line)
            last = line
        if pending == 0 or time.monotonic() - t0 > timeout:
            return summary_
        await asyncio.sleep(1)


def _report(cfg: StackConfig, answers: Counter[int], final: dict[str, Any]) -> None:
    typer.secho("\nDemo results", bold=True)
    typer.echo(f"  accepted 202: {answers[202]}, already nominated 409: {answers[409]}, invalid 422: {answers[422]}")
    for outcome, counts in sorted(final["by_outcome"].items()):
        typer.echo(f"  {outcome:<11} {counts['total']:>6}   of which notified {counts['notified']:>6}")
    typer.echo(f"  rejections by reason: {final['rejections_by_reason']}")
    funding = httpx.get(
        f"http://{cfg.host}:{cfg.enrolment_port}/v1/funding-sources", timeout=10, headers=_auth(cfg)
    ).json()
    for source in funding if isinstance(funding, list) else funding.get("sources", []):
        typer.echo(f"  funding {source}")
    messages = cfg.stack_dir / "messages.jsonl"
    if messages.exists():
        lines = messages.read_bytes().splitlines()
        typer.echo(f"  messages on the local channel: {len(lines)} ({_rel(messages)}); the latest:")
        for line in lines[-2:]:
            typer.echo(f"    {orjson.loads(line).get('text', line.decode()[:200])}")


def _auth(cfg: StackConfig) -> dict[str, str]:
    """The demo acts as a programme admin (it submits for every desa): ``PAYUNG_API_KEY``, else the local key."""
    key = os.environ.get("PAYUNG_API_KEY") or apikeys.ensure_local_keys(cfg.stack_dir)["admin"]
    return {"X-API-Key": key}


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
