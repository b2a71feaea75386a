"""Deterministic synthetic data: a civil-registry snapshot and nominations with labelled faults.

``python -m tools.synthetic registry`` writes a Disdukcapil-style CSV; ``python -m tools.synthetic nominations``
writes JSONL lines ``{"request": <POST /v1/nominations body>, "expected": <outcome>, "fault": <fault>}`` drawn
from that registry. The same seed always gives byte-identical files. This module is the public face (the command
line and the names tests, the demo and the benchmark import); the generators live in ``tools.synthetic_registry``
and ``tools.synthetic_nominations``.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from time import perf_counter
from typing import Annotated

import typer

from tools.synthetic_nominations import (
    ACCEPTED,
    DEFAULT_MIX,
    DUPLICATE,
    FAULT_OUTCOME,
    FAULTS,
    INVALID,
    OUTCOMES,
    Mix,
    Nomination,
    generate_nominations,
    read_nominations,
    summary,
    write_nominations,
)
from tools.synthetic_registry import (
    API_OCCUPATIONS,
    KTP_OCCUPATIONS,
    MOBILE_PREFIXES,
    REFERENCE_DATE,
    REGISTRY_HEADER,
    RegistryRecord,
    encode_birth_date,
    generate_registry,
    mobile_number,
    programme_today,
    read_registry,
    write_registry,
)

__all__ = [
    "ACCEPTED",
    "API_OCCUPATIONS",
    "DEFAULT_MIX",
    "DUPLICATE",
    "FAULTS",
    "FAULT_OUTCOME",
    "INVALID",
    "KTP_OCCUPATIONS",
    "MOBILE_PREFIXES",
    "OUTCOMES",
    "REFERENCE_DATE",
    "REGISTRY_HEADER",
    "Mix",
    "Nomination",
    "RegistryRecord",
    "encode_birth_date",
    "generate_nominations",
    "generate_registry",
    "mobile_number",
    "programme_today",
    "read_nominations",
    "read_registry",
    "summary",
    "write_nominations",
    "write_registry",
]

app = typer.Typer(
    help="Deterministic synthetic civil registry and nominations.", no_args_is_help=True, add_completion=False
)


@app.command("registry")
def registry_command(
    people: int = 300_000,
    seed: int = 42,
    regency: str = "64.08",
    out: Path = Path("registry.csv"),
    reference_date: Annotated[str, typer.Option(help="Ages are computed on this day")] = REFERENCE_DATE.isoformat(),
) -> None:
    """Write a civil-registry snapshot as CSV."""
    started = perf_counter()
    n = write_registry(generate_registry(people, seed, regency, reference_date=date.fromisoformat(reference_date)), out)
    typer.echo(f"{n} registry rows -> {out} in {perf_counter() - started:.1f}s", err=True)


@app.command("nominations")
def nominations_command(
    registry: Path = Path("registry.csv"),
    count: int = 5000,
    seed: int = 7,
    regency: str = "64.08",
    out: Path = Path("nominations.jsonl"),
    rate: Annotated[list[str] | None, typer.Option(help="Override a fault rate: FAULT=RATE, repeatable")] = None,
    reference_date: str = REFERENCE_DATE.isoformat(),
) -> None:
    """Write nominations (JSONL) drawn from a registry CSV, with labelled faults."""
    started = perf_counter()
    overrides = {k: float(v) for k, v in (r.split("=", 1) for r in rate or [])}
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Mix)}
    if unknown:
        raise typer.BadParameter(f"unknown faults: {', '.join(sorted(unknown))}", param_hint="--rate")
    mix = dataclasses.replace(DEFAULT_MIX, **overrides)
    made = list(
        generate_nominations(registry, count, seed, regency, mix=mix, reference_date=date.fromisoformat(reference_date))
    )
    write_nominations(made, out)
    typer.echo(f"{len(made)} nominations -> {out} in {perf_counter() - started:.1f}s", err=True)
    for outcome, n in sorted(summary(made).items()):
        typer.echo(f"  {outcome:<36} {n:>7}", err=True)


@app.command("summary")
def summary_command(path: Path, by: str = "expected") -> None:
    """Print the mix of a nominations file, per expected outcome or per fault."""
    for key, n in summary(read_nominations(path), by=by).most_common():
        typer.echo(f"{key:<36} {n:>7}")


if __name__ == "__main__":
    app()
