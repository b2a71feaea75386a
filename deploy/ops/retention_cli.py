"""``payung retention run``: the retention job of shared/retention.py, now, for one service or every one.

The services run it daily in the background; this runs it on demand (after raising a setting, before a backup,
to see what it would free). It connects to each service's database (the local stack's by default, or
``--database-url``), takes the same advisory lock as the background job (a run already under way elsewhere makes
this one skip) and prints the rows deleted per table, never their content. The retention settings are read like the
service reads them (``PAYUNG_RETENTION_*`` in the environment, else the defaults), with the same bounds.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Annotated, Any

import typer
from pydantic import ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.native import stack
from deploy.native.config import SERVICES, StackConfig
from shared import db, retention

app = typer.Typer(help="Delete rows past their retention (docs/RELIABILITY.md, Retention).", no_args_is_help=True)

_SETTINGS = {
    "nomination": "services.nomination.settings:NominationSettings",
    "verification": "services.verification.settings:VerificationSettings",
    "enrolment": "services.enrolment.settings:EnrolmentSettings",
    "notification": "services.notification.settings:NotificationSettings",
    "reporting": "services.reporting.settings:ReportingSettings",
}
_GENERAL = ("retention_batch_rows", "retention_pause_s")


class _RetentionEnv(BaseSettings):
    """Only the retention fields of a service's settings: the rest (secrets, brokers) is not needed here."""

    model_config = SettingsConfigDict(env_prefix="PAYUNG_", extra="ignore")

    @field_validator("retention_inbox_days", check_fields=False)
    @classmethod
    def _inbox(cls, days: int) -> int:
        return retention.check_inbox_days(days)


def settings_of(service: str) -> Any:
    """The retention settings of ``service`` from the environment and its settings class's defaults and bounds."""
    module, name = _SETTINGS[service].split(":")
    cls = getattr(importlib.import_module(module), name)
    names = sorted({rule.setting for rule in retention.rules(service)} | set(_GENERAL))
    fields: dict[str, Any] = {n: (cls.model_fields[n].annotation, cls.model_fields[n]) for n in names}
    model = create_model(f"{name}Retention", __base__=_RetentionEnv, **fields)
    return model()


async def _run(service: str, dsn: str, batch_rows: int | None) -> retention.RunResult:
    settings = settings_of(service)
    conn = await db.connect(dsn)
    try:
        return await retention.run(conn, service, settings, batch_rows=batch_rows)
    finally:
        await conn.close()


@app.command("run")
def run_cmd(
    service: Annotated[str | None, typer.Option(help=f"One of {', '.join(SERVICES)} (default: every one).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="The service's database (with --service; default: the local stack's).")
    ] = None,
    batch_rows: Annotated[int | None, typer.Option(min=1, max=100_000, help="Rows per DELETE statement.")] = None,
) -> None:
    """Delete the rows past their retention now; prints the count per table."""
    if service is not None and service not in SERVICES:
        raise typer.BadParameter(f"one of: {', '.join(SERVICES)}", param_hint="--service")
    if database_url and service is None:
        raise typer.BadParameter("give --service with --database-url", param_hint="--database-url")
    failed = False
    for name in [service] if service else SERVICES:
        dsn = database_url or stack.database_url(StackConfig(), name)
        try:
            result = asyncio.run(_run(name, dsn, batch_rows))
        except ValidationError as exc:
            typer.secho(f"{name}: {exc.errors()[0]['msg']}", fg="red", err=True)
            raise typer.Exit(2) from exc
        except (OSError, ConnectionError) as exc:
            typer.secho(f"{name}: database not reachable ({type(exc).__name__})", fg="red", err=True)
            failed = True
            continue
        typer.echo(f"{name}: " + "; ".join(retention.summary(result)))
    if failed:
        raise typer.Exit(1)
