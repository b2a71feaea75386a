"""The operator commands of ``payung``: import a village's spreadsheet, follow a nomination, print reports, load
the civil-registry snapshot. They talk to the services' HTTP APIs (deploy/ops/operator.py says where and with which
credentials); ``register`` adds them to the main command line (deploy/cli.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import zipfile
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from openpyxl.utils.exceptions import InvalidFileException

from deploy.native import stack
from deploy.native.config import REPO_ROOT, StackConfig
from deploy.ops import dlq, import_sheets, importer, operator, parked, retention_cli
from shared.sheets import rows as sheets

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class Report(StrEnum):
    coverage = "coverage"
    rejections = "rejections"
    budget = "budget"
    forecast = "forecast"
    objections = "objections"
    population = "population"


def _get(service: str, path: str, params: dict[str, Any] | None = None, timeout: httpx.Timeout = TIMEOUT) -> Any:
    url = operator.service_url(service) + path
    try:
        response = httpx.get(url, params=params, headers=operator.auth_headers(), timeout=timeout)
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
    nominator_name: Annotated[str | None, typer.Option(help="Who proposes (or the file's pengusul sheet).")] = None,
    nominator_region: Annotated[
        str | None, typer.Option(help="The nominator's desa code (rt, desa) or regency (disnaker).")
    ] = None,
    nominator_type: Annotated[str | None, typer.Option(help="rt, desa or disnaker (default desa).")] = None,
    nominator_phone: Annotated[str | None, typer.Option(help="For messages to the nominator.")] = None,
    letter_number: Annotated[str | None, typer.Option(help="Supporting letter (surat keterangan) number.")] = None,
    letter_date: Annotated[str | None, typer.Option(help="Its date, YYYY-MM-DD.")] = None,
    letter_issuer: Annotated[str | None, typer.Option(help="The official who signed it.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", "--errors", help="Report path (default: FILE-laporan.xlsx|csv).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32)] = 8,
) -> None:
    """Import a village's spreadsheet of nominations; every row's outcome goes to a report to fix and re-import.

    The nominator and the letter come from the options or, in an XLSX made from the template, its ``pengusul``
    sheet. Re-importing the same file creates nothing twice (each row's request carries an Idempotency-Key derived
    from its content). The report (an XLSX for an XLSX, a CSV with the input's delimiter for a CSV) holds each row
    with its nomination id or its faulty cells and reasons. Exit code 1 when some rows failed.
    """
    try:
        sheet_batch = import_sheets.read_batch(file)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, InvalidFileException) as exc:
        raise typer.BadParameter(f"{file.name}: not a readable spreadsheet ({type(exc).__name__})") from exc
    nominator_type = nominator_type or sheet_batch.get("jenis_pengusul", "desa")
    nominator_name = nominator_name or sheet_batch.get("nama_pengusul")
    nominator_region = nominator_region or sheet_batch.get("kode_wilayah_pengusul")
    nominator_phone = nominator_phone or sheet_batch.get("hp_pengusul")
    letter_number = letter_number or sheet_batch.get("nomor_surat")
    letter_date = letter_date or sheet_batch.get("tanggal_surat")
    letter_issuer = letter_issuer or sheet_batch.get("penandatangan_surat")
    if nominator_type not in ("rt", "desa", "disnaker"):
        raise typer.BadParameter("rt, desa or disnaker", param_hint="--nominator-type")
    if not (nominator_name and nominator_region):
        raise typer.BadParameter("give --nominator-name and --nominator-region (or fill the file's pengusul sheet)")
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
        sheet = importer.read_sheet(file)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, InvalidFileException) as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    batch = sheets.Batch(nominator, letter)
    requests, problems, examples = [], [], 0
    for number, row in sheet.rows:
        if sheets.is_example(row):
            examples += 1
            continue
        request, row_errors = sheets.to_request(number, row, batch, sheet.numeric.get(number, frozenset()))
        problems += row_errors
        if request is not None:
            requests.append((number, request))
    base = operator.service_url("nomination")
    _get("nomination", "/health/live")  # fail fast, not after retrying every row
    skipped = " (the template's example row skipped)" if examples else ""
    typer.echo(f"{file.name}: {len(sheet.rows)} rows{skipped}, {len(requests)} to send to {base}")
    result = asyncio.run(_send(base, requests, concurrency))
    errors = sorted(problems + result.errors, key=lambda e: e.row)
    typer.echo(
        f"new: {result.created}, imported before: {result.replayed}, rows with errors: {len({e.row for e in errors})}"
    )
    path = report or import_sheets.report_path(file)
    failed = import_sheets.write_report(path, sheet, result, errors)
    colour = "yellow" if failed else "green"
    hint = ": fix the highlighted cells there and import that file" if failed else ""
    typer.secho(f"report: {path} ({len(sheet.rows)} rows, {failed} failed{hint})", fg=colour)
    if result.refused:
        typer.secho(
            f"the nomination service refused this account ({result.refused}): set PAYUNG_API_KEY to a key allowed "
            "to submit for this area",
            fg="red",
            err=True,
        )
    if errors:
        raise typer.Exit(1)


async def _send(base: str, requests: list[tuple[int, dict[str, Any]]], concurrency: int) -> sheets.ImportResult:
    async with httpx.AsyncClient(base_url=base, headers=operator.auth_headers(), timeout=TIMEOUT) as client:
        with typer.progressbar(length=len(requests), label="mengimpor / importing") as bar:
            return await importer.submit_all(client, requests, lambda: bar.update(1), concurrency)


def import_template(
    directory: Annotated[Path, typer.Option("--dir", help="Where to write the files.")] = Path("."),
    area: Annotated[
        str | None, typer.Option(help="Regency, kecamatan or desa code: the desa the drop-down list offers.")
    ] = None,
) -> None:
    """Write the import template (nominasi-template.csv and .xlsx: text-formatted NIK and phone columns, drop-down
    lists, a pengusul sheet, an example row that is never imported)."""
    try:
        paths = import_sheets.write_template(directory, area)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--area") from exc
    for path in paths:
        typer.echo(f"wrote {path}")


def nomination(nomination_id: Annotated[str, typer.Argument(help="The nomination id (a UUID).")]) -> None:
    """Show a nomination's status and history."""
    response = _get("nomination", f"/v1/nominations/{nomination_id}")
    if response.status_code in (404, 422):
        typer.secho(f"no nomination {nomination_id}", fg="red", err=True)
        raise typer.Exit(1)
    response.raise_for_status()
    typer.echo("\n".join(operator.history_lines(response.json())))


CARDS_TIMEOUT = httpx.Timeout(600.0, connect=5.0)  # a desa of 2,000 members renders for tens of seconds
DESA_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")


def cards(
    desa_code: Annotated[str, typer.Argument(help="The desa's dotted code, e.g. 64.09.01.2001.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="Where to write the PDF.")],
) -> None:
    """Write a desa's membership cards (A4 sheets of 8, fronts then backs, crop marks) and the receipt list to sign
    ("Tanda terima kartu") as one PDF, for the village handover. Needs a key of that desa's area or a programme
    admin's; every batch is audited by the nomination service."""
    if not DESA_CODE.match(desa_code):
        typer.secho("the desa code must look like 64.09.01.2001", fg="red", err=True)
        raise typer.Exit(2)
    response = _get("nomination", f"/v1/cards/desa/{desa_code}", timeout=CARDS_TIMEOUT)
    if response.status_code == 404:
        typer.secho(f"desa {desa_code} has no covered member yet: no card to print", fg="red", err=True)
        raise typer.Exit(1)
    response.raise_for_status()
    out.write_bytes(response.content)
    typer.echo(f"{out}: {len(response.content):,} bytes")


def report(
    kind: Annotated[
        Report, typer.Argument(help="coverage, rejections, budget, forecast, objections, or population load FILE.")
    ],
    action: Annotated[str | None, typer.Argument(help="population: load.")] = None,
    file: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False, help="population: the CSV.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output instead of a table.")] = False,
    lang: Annotated[str, typer.Option(help="Labels: id or en.")] = "id",
) -> None:
    """Print a report of the reporting service as a table or CSV; ``population load FILE`` loads the eligible
    population per desa (CSV ``desa_code,eligible_population``)."""
    if kind is Report.population:
        if action != "load" or file is None:
            raise typer.BadParameter("population load FILE", param_hint="ACTION")
        _reporting_command(["population", "load", str(file.resolve())])
    if action is not None:
        raise typer.BadParameter(f"{kind.value} takes no action", param_hint="ACTION")
    path = {
        "coverage": "/v1/reports/coverage",
        "rejections": "/v1/reports/rejections",
        "budget": "/v1/reports/budget",
        "forecast": "/v1/reports/forecast",
        "objections": "/v1/reports/objections",
    }
    labelled = kind in (Report.coverage, Report.rejections, Report.objections)
    response = _get("reporting", path[kind.value], {"lang": lang} if labelled else None)
    response.raise_for_status()
    body = response.json()
    table = {
        Report.coverage: operator.coverage_table,
        Report.rejections: operator.rejections_table,
        Report.budget: operator.budget_table,
        Report.forecast: operator.forecast_table,
        Report.objections: operator.objections_table,
    }[kind](body)
    if as_csv:
        typer.echo(operator.to_csv(table), nl=False)
        return
    if kind is Report.coverage:
        covered = sum(r["covered"] for r in body["by_kecamatan"])
        typer.echo(f"covered {covered:,} of target {body['target']:,} ({covered / body['target']:.1%})\n")
    typer.echo(operator.to_text(table))


def _reporting_command(args: list[str]) -> None:
    """``python -m services.reporting ARGS`` with the local stack's reporting settings (a deployment runs that
    command in its own environment)."""
    env = {**os.environ, **stack.service_env(StackConfig(), "reporting")}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "services.reporting", *args], env=env, cwd=REPO_ROOT, check=False
    )
    raise typer.Exit(result.returncode)


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
    app.command()(cards)
    app.command()(report)
    app.add_typer(registry_app, name="registry")
    app.add_typer(dlq.app, name="dlq")
    app.add_typer(parked.outbox_app, name="outbox")
    app.add_typer(retention_cli.app, name="retention")
