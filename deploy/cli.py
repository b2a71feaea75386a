"""``./payung``: run the local stack and the test suite (``payung --help``)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from deploy.native import apikeys, keycloak, stack
from deploy.native.config import (
    REPO_ROOT,
    SERVICES,
    StackConfig,
    StackError,
    StackTestConfig,
    instance_name,
    parse_replicas,
)
from deploy.native.procs import tail
from deploy.ops import commands

app = typer.Typer(
    help="Payung: the native local stack (Kafka, PostgreSQL, the services) and the operator commands.",
    no_args_is_help=True,
    add_completion=False,
)

PYTEST_NO_TESTS = 5
_STACK_ENTRIES = {"logs", "run", "kafka", "postgres"}


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stdout)
    # Library chatter (connection attempts, config dumps) is not what a developer wants to read here.
    for noisy in ("aiokafka", "httpx", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _rel(path: Path) -> str:
    """A path relative to the repository when inside it: shorter tables."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@contextmanager
def _step(title: str) -> Iterator[None]:
    """Print a step with its duration; a StackError ends the command with its message and exit code 1."""
    typer.secho(f"==> {title}", bold=True)
    t0 = time.monotonic()
    try:
        yield
    except StackError as exc:
        typer.secho(f"FAILED: {title} ({time.monotonic() - t0:.1f} s)\n{exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"    done in {time.monotonic() - t0:.1f} s")


def _print_addresses(cfg: StackConfig, with_services: bool) -> None:
    user, pw = cfg.pg_user, cfg.pg_password.get_secret_value()
    # The built-in local default is printed for copy-paste; a password someone chose is not.
    pw = pw if pw == StackConfig.model_fields["pg_password"].default.get_secret_value() else "***"
    rows = [
        ("component", "where"),
        ("postgres", f"postgresql://{user}:{pw}@{cfg.host}:{cfg.pg_port}/<{'|'.join(SERVICES)}>"),
        ("kafka", f"{cfg.kafka_bootstrap} (topic prefix {cfg.topic_prefix!r})"),
    ]
    if with_services:
        rows += [
            (instance_name(n, k), f"http://{cfg.host}:{cfg.service_port(n, k)}/docs")
            for n, k in sorted(cfg.instances(), key=lambda i: (SERVICES.index(i[0]), i[1]))
        ]
        # This instance's own keys (made once, kept 0600 in the stack dir): where they are, never the keys.
        rows += apikeys.describe(cfg.stack_dir)
        keys_file = _rel(apikeys.secrets_file(cfg.stack_dir))
        rows += [("keys file", f"{keys_file}  (0600; send one as the X-API-Key header)")]
        rows += [("a key", f"e.g. KEY=$(jq -r .admin {keys_file})")]
        if keycloak.enabled(cfg):
            rows += [(a, _rel(Path(b)) if a == "passwords" else b) for a, b in keycloak.describe(cfg)]
            rows += [("sign in", f"http://{cfg.host}:{cfg.reporting_port}/  (the dashboard, as one of the users)")]
    rows += [("logs", f"{_rel(cfg.logs_dir)}/<component>.log  (./payung logs <component>)")]
    _table(rows)


@app.command()
def up(
    infra_only: Annotated[bool, typer.Option("--infra-only", help="Only Kafka and PostgreSQL.")] = False,
    demo: Annotated[bool, typer.Option("--demo", help="Then run the demo scenario (deploy/ops/demo.py).")] = False,
    no_idp: Annotated[
        bool, typer.Option("--no-idp", help="Without Keycloak (pages then take API keys only); or PAYUNG_IDP=none.")
    ] = False,
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            "--replicas",
            metavar="SERVICE=N",
            help="Run N processes of SERVICE (repeatable; or PAYUNG_REPLICAS=verification=2,enrolment=3). "
            "Replica k > 1 is <service>-<k>, on the service's port + 100 * (k - 1).",
        ),
    ] = None,
) -> None:
    """Start PostgreSQL, Kafka (with the topics), Keycloak and the services; print where everything is."""
    _setup_logging()
    cfg = StackConfig(idp="none") if no_idp else StackConfig()
    if replicas:
        try:
            cfg = cfg.model_copy(update={"replicas": _merged_replicas(cfg.replicas, replicas)})
        except StackError as exc:
            raise typer.BadParameter(str(exc), param_hint="--replicas") from exc
    if demo:
        # Small quotas so the demo fills them and shows the waitlist; an explicit setting wins.
        from deploy.ops.demo import DEMO_FUNDING_SOURCES

        os.environ.setdefault("PAYUNG_FUNDING_SOURCES", DEMO_FUNDING_SOURCES)
    idp_pid = None
    if keycloak.enabled(cfg) and not infra_only:
        with _step("identity provider: Keycloak (started now, awaited last; --no-idp to skip)"):
            idp_pid = stack.start_idp(cfg)
    with _step("infrastructure: PostgreSQL + Kafka + topics"):
        stack.start_infra(cfg)
    if not infra_only:
        with _step("services: migrate + serve"):
            stack.start_services(cfg)
    if idp_pid is not None:
        with _step(f"identity provider: Keycloak ready at {keycloak.issuer(cfg)}"):
            stack.wait_idp(cfg, idp_pid)
    _print_addresses(cfg, with_services=not infra_only)
    if demo:
        _demo(cfg)


def _merged_replicas(configured: str, options: list[str]) -> str:
    """PAYUNG_REPLICAS with ``up``'s --replicas options added (an option wins for its service); validated."""
    counts = parse_replicas(configured) | parse_replicas(",".join(options))
    return ",".join(f"{name}={count}" for name, count in counts.items())


def _demo(cfg: StackConfig, nominations: int = 3000) -> None:
    from deploy.ops.demo import run_demo

    with _step("demo: synthetic registry and nominations through the pipeline"):
        run_demo(cfg, nominations)


@app.command()
def demo(
    nominations: Annotated[int, typer.Option(help="How many synthetic nominations to submit.")] = 3000,
) -> None:
    """Run the demo on the running stack (``./payung up`` first; ``up --demo`` does both)."""
    _setup_logging()
    _demo(StackConfig(), nominations)


@app.command()
def down() -> None:
    """Stop the services (SIGTERM, then SIGKILL after 30 s), Kafka and PostgreSQL. Data is kept."""
    _setup_logging()
    cfg = StackConfig()
    with _step("stopping"):
        for name in stack.stop_services(cfg):
            logging.getLogger("payung.stack").info("%s stopped", name)
        stack.stop_infra(cfg)


@app.command("status")
def status_cmd() -> None:
    """Show each component: running or stopped, pid, address."""
    cfg = StackConfig()
    rows = [("component", "state", "pid", "address")]
    rows += [(s.name, "running" if s.running else "stopped", str(s.pid or "-"), s.address) for s in stack.status(cfg)]
    _table(rows)
    typer.echo(f"stack dir: {_rel(cfg.stack_dir)}")


@app.command()
def logs(
    component: Annotated[
        str, typer.Argument(help=f"postgres, kafka, keycloak, {', '.join(SERVICES)}, or a replica: <service>-<k>")
    ],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines.")] = 50,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
) -> None:
    """Print the end of a component's log."""
    try:
        path = stack.log_file(StackConfig(), component)
    except StackError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if not path.exists():
        typer.echo(f"no log yet: {_rel(path)}")
        raise typer.Exit(1)
    typer.echo(tail(path, lines))
    if follow:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            while True:
                chunk = f.read()
                if chunk:
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.5)


def _wipe(cfg: StackTestConfig) -> None:
    """Delete the test instance's directory, refusing if it does not look like one (a non-empty directory with
    none of a stack's subdirectories): PAYUNG_TEST_STACK_DIR pointing at the wrong place must not cost files."""
    if not cfg.stack_dir.exists():
        return
    entries = {p.name for p in cfg.stack_dir.iterdir()}
    if entries and not entries & _STACK_ENTRIES:
        raise StackError(f"refusing to wipe {cfg.stack_dir}: it does not look like a stack directory")
    shutil.rmtree(cfg.stack_dir)


def _test_env(cfg: StackTestConfig) -> dict[str, str]:
    """What tests/infra.py reads to find the infrastructure (the role may CREATE DATABASE)."""
    return {
        **os.environ,
        "PAYUNG_TEST_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "PAYUNG_TEST_DATABASE_URL": stack.database_url(cfg, "postgres"),
        "PAYUNG_TEST_STACK_DIR": str(cfg.stack_dir),
    }


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a CI timeout, ``kill``): unlike Ctrl-C, it reached this process only."""


def _raise_on_sigterm() -> None:
    """Turn SIGTERM into an exception, so the finally blocks stop the test infrastructure."""

    def handler(signum: int, _frame: object) -> None:
        raise _Terminated(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def _run_pytest(args: list[str], env: dict[str, str]) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=REPO_ROOT, env=env)  # noqa: S603
    try:
        return proc.wait()
    except KeyboardInterrupt as exc:
        # A terminal's Ctrl-C reached pytest too (same process group); a SIGTERM did not: pass it on as SIGINT,
        # which pytest answers by running its teardown. Either way give it time to finish that teardown.
        if isinstance(exc, _Terminated):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """ruff, then mypy (strict, [tool.mypy] in pyproject.toml), then pytest (extra arguments go to pytest) against a
    fresh test instance of Kafka and PostgreSQL. A lint or type error fails the command before any test runs.

    The instance lives in .stack/test on ports 19092/19093/15432 (PAYUNG_TEST_* overrides), is wiped before
    and stopped after, whatever the outcome. Exit code: pytest's; "no tests collected" (5) counts as failure.
    """
    _setup_logging()
    _raise_on_sigterm()
    typer.secho("==> ruff check .", bold=True)
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO_ROOT, check=False)
    if lint.returncode != 0:
        raise typer.Exit(lint.returncode)
    typer.secho("==> mypy", bold=True)  # what it checks, and how strictly: [tool.mypy] in pyproject.toml
    types = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO_ROOT, check=False)
    if types.returncode != 0:
        raise typer.Exit(types.returncode)
    cfg = StackTestConfig()
    code = 1
    try:
        with _step(f"test infrastructure in {_rel(cfg.stack_dir)} (wiped)"):
            stack.stop_services(cfg)  # leftovers of an interrupted run
            stack.stop_infra(cfg)
            _wipe(cfg)
            stack.start_infra(cfg)
        typer.secho(f"==> pytest {' '.join(ctx.args)}", bold=True)
        # The instance's own temporary directory: pytest prunes old /tmp/pytest-of-<user> directories, which would
        # pull a running session's files away when two instances test at once.
        code = _run_pytest([f"--basetemp={cfg.stack_dir / 'pytest'}", *ctx.args], _test_env(cfg))
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="red", err=True)
        code = 130
    finally:
        with _step("stopping the test infrastructure"):
            stack.stop_services(cfg)
            stack.stop_infra(cfg)
    if code == PYTEST_NO_TESTS:
        typer.secho("pytest collected no tests: counted as a failure", fg="red", err=True)
    raise typer.Exit(code)


commands.register(app)  # import, import-template, nomination, report, registry load


def main() -> None:
    """Entry point of ``python -m deploy.cli``."""
    app()


if __name__ == "__main__":
    main()
