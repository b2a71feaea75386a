"""The operator commands of ``payung``: import a village's spreadsheet, follow a nomination, print reports, load
the civil-registry snapshot. They talk to the services' HTTP APIs (deploy/operator.py says where and with which
credentials); ``register`` adds them to the main command line (deploy/cli.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from deploy import dlq, importer, operator, parked, stack
from deploy.config import REPO_ROOT, StackConfig

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Report(StrEnum):
    coverage = "coverage"
    rejections = "rejections"
    budget = "budget"


def _get(service: str, path: str, params: dict[str, Any] | None = None) -> Any:
    url = operator.service_url(service) + path
    try:
        response = httpx.get(url, params=params, headers=operator.auth_headers(), timeout=TIMEOUT)
    except httpx.TransportError as exc:
        typer.secho(f"{service} service not reachable at {url}: {type(exc).__name__}", fg="red", err=True)
        raise typer.Exit(1) from exc
    if response.status_code in (401, 403):
        typer.secho(
            f"{service}: HTTP {response.status_code}: set PAYUNG_API_KEY to a key allowed to read this", err=True
        )
        raise typer.Exit(1)
    return response


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The village's .csv or .xlsx file.")],
    nominator_name: Annotated[str, typer.Option(help="Who proposes (the official's name).")],
    nominator_region: Annotated[str, typer.Option(help="The nominator's desa code (rt, desa) or regency (disnaker).")],
    nominator_type: Annotated[str, typer.Option(help="rt, desa or disnaker.")] = "desa",
    nominator_phone: Annotated[str | None, typer.Option(help="For messages to the nominator.")] = None,
    letter_number: Annotated[str | None, typer.Option(help="Supporting letter (surat keterangan) number.")] = None,
    letter_date: Annotated[str | None, typer.Option(help="Its date, YYYY-MM-DD.")] = None,
    letter_issuer: Annotated[str | None, typer.Option(help="The official who signed it.")] = None,
    errors: Annotated[Path | None, typer.Option(help="Error report path (default: FILE-errors.csv).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32)] = 8,
) -> None:
    """Import a village's spreadsheet of nominations; failed rows go to an error report to fix and re-import.

    Re-importing the same file creates nothing twice (each row's request carries an Idempotency-Key derived
    from its content). Exit code 1 when some rows failed.
    """
    if nominator_type not in ("rt", "desa", "disnaker"):
        raise typer.BadParameter("rt, desa or disnaker", param_hint="--nominator-type")
    letter = None
    if letter_number or letter_date or letter_issuer:
        if not (letter_number and letter_date and letter_issuer):
            raise typer.BadParameter("give --letter-number, --letter-date and --letter-issuer together")
        try:
            date.fromisoformat(letter_date)
        except ValueError as exc:
            raise typer.BadParameter("YYYY-MM-DD", param_hint="--letter-date") from exc
        letter = {"number": letter_number, "date": letter_date, "issuer": letter_issuer}
    elif nominator_type != "disnaker":
        raise typer.BadParameter(
            f"a {nominator_type} nomination needs its supporting letter: --letter-number, "
            "--letter-date, --letter-issuer"
        )
    nominator: dict[str, Any] = {"type": nominator_type, "name": nominator_name, "region_code": nominator_region}
    if nominator_phone:
        nominator["phone"] = nominator_phone
    try:
        rows = importer.read_rows(file)
    except (ValueError, KeyError, OSError) as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    batch = importer.Batch(nominator, letter)
    requests, problems = [], []
    for number, row in rows:
        request, row_errors = importer.to_request(number, row, batch)
        problems += row_errors
        if request is not None:
            requests.append((number, request))
    base = operator.service_url("nomination")
    _get("nomination", "/health/live")  # fail fast, not after retrying every row
    typer.echo(f"{file.name}: {len(rows)} rows, {len(requests)} to send to {base}")
    result = asyncio.run(_send(base, requests, concurrency))
    result.errors = sorted(problems + result.errors, key=lambda e: e.row)
    typer.echo(
        f"new: {result.created}, imported before: {result.replayed}, rows with errors: "
        f"{len({e.row for e in result.errors})}"
    )
    if result.errors:
        report = errors or file.with_name(f"{file.stem}-errors.csv")
        count = importer.write_error_report(report, rows, result.errors)
        typer.secho(f"error report: {report} ({count} rows: fix them there and import that file)", fg="yellow")
        raise typer.Exit(1)


async def _send(base: str, requests: list[tuple[int, dict[str, Any]]], concurrency: int) -> importer.ImportResult:
    async with httpx.AsyncClient(base_url=base, headers=operator.auth_headers(), timeout=TIMEOUT) as client:
        with typer.progressbar(length=len(requests), label="mengimpor / importing") as bar:
            try:
                return await importer.submit_all(client, requests, lambda: bar.update(1), concurrency)
            except PermissionError as exc:
                typer.secho(f"\n{exc}: set PAYUNG_API_KEY to a key allowed to submit for this area", fg="red", err=True)
                raise typer.Exit(1) from exc


def import_template(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the files.")] = Path("."),
) -> None:
    """Write the import template (nominasi-template.csv and .xlsx, with a sheet explaining the columns)."""
    for path in importer.write_template(directory):
        typer.echo(f"wrote {path}")


def nomination(nomination_id: Annotated[str, typer.Argument(help="The nomination id (a UUID).")]) -> None:
    """Show a nomination's status and history."""
    response = _get("nomination", f"/v1/nominations/{nomination_id}")
    if response.status_code in (404, 422):
        typer.secho(f"no nomination {nomination_id}", fg="red", err=True)
        raise typer.Exit(1)
    response.raise_for_status()
    typer.echo("\n".join(operator.history_lines(response.json())))


def report(
    kind: Annotated[Report, typer.Argument(help="coverage, rejections or budget.")],
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output instead of a table.")] = False,
    lang: Annotated[str, typer.Option(help="Labels: id or en.")] = "id",
) -> None:
    """Print a report of the reporting service as a table or CSV."""
    path = {"coverage": "/v1/reports/coverage", "rejections": "/v1/reports/rejections", "budget": "/v1/reports/budget"}
    response = _get("reporting", path[kind.value], {"lang": lang} if kind is not Report.budget else None)
    response.raise_for_status()
    body = response.json()
    table = {
        Report.coverage: operator.coverage_table,
        Report.rejections: operator.rejections_table,
        Report.budget: operator.budget_table,
    }[kind](body)
    if as_csv:
        typer.echo(operator.to_csv(table), nl=False)
        return
    if kind is Report.coverage:
        covered = sum(r["covered"] for r in body["by_kecamatan"])
        typer.echo(f"covered {covered:,} of target {body['target']:,} ({covered / body['target']:.1%})\n")
    typer.echo(operator.to_text(table))


registry_app = typer.Typer(help="The civil-registry snapshot of the verification service.", no_args_is_help=True)


@registry_app.command("load")
def registry_load(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Snapshot CSV.")]) -> None:
    """Load or refresh the registry snapshot (runs ``python -m services.verification load-registry FILE`` with the
    local stack's verification settings; a deployment runs that command in its own environment)."""
    env = {**os.environ, **stack.service_env(StackConfig(), "verification")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "services.verification", "load-registry", str(file.resolve())],
        env=env,
        cwd=REPO_ROOT,
        check=False,
    )
    raise typer.Exit(result.returncode)


def register(app: typer.Typer) -> None:
    """Add the operator commands to ``app``."""
    app.command("import")(import_file)
    app.command("import-template")(import_template)
    app.command()(nomination)
    app.command()(report)
    app.add_typer(registry_app, name="registry")
    app.add_typer(dlq.app, name="dlq")
    app.add_typer(parked.outbox_app, name="outbox")
