"""Every service has the same shape (issue #12, "One house"): the same top-level names, small modules, typed Deps
instead of ``Runtime.resources``, handlers that return their events instead of writing the outbox, and a spec wired
from its declared topology. A reader who knows one service knows all five.

The running counterpart (the consumers a started service subscribes against its declaration) is
tests/integration/test_service_topology.py.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import ReportingSettings
from shared import topology
from shared.service import ServiceSpec, create_app

SERVICES_DIR = Path(__file__).parents[2] / "services"
REQUIRED = {
    "__init__",
    "__main__",
    "app",
    "api",
    "bootstrap",
    "commands",
    "topology",
    "handlers",
    "domain",
    "repository",
    "adapters",
    "errors",
    "settings",
    "migrations",
}
OPTIONAL = {"templates", "static"}
MAX_LINES = 400
# What the one-house shape retired: dependencies through Runtime.resources (typed Deps instead) and handlers writing
# the outbox themselves (they return their events; shared.messaging.run and shared.consumer write them).
FORBIDDEN = {
    "Runtime.resources": re.compile(r"\.resources\b|\bresources\s*="),
    "outbox.add_events": re.compile(r"\badd_events\b"),
}


def top_level_names(service: str) -> set[str]:
    """``handlers.py`` and ``handlers/`` both count as ``handlers``."""
    return {p.stem if p.is_file() else p.name for p in (SERVICES_DIR / service).iterdir() if p.name != "__pycache__"}


def sources(service: str) -> list[Path]:
    return sorted(p for p in (SERVICES_DIR / service).rglob("*.py") if "__pycache__" not in p.parts)


def spec_of(service: str) -> ServiceSpec[Any, Any]:
    spec: ServiceSpec[Any, Any] = importlib.import_module(f"services.{service}.app").SPEC
    return spec


@pytest.mark.parametrize("service", topology.SERVICES)
def test_every_service_has_the_same_top_level_names(service: str) -> None:
    names = top_level_names(service)
    missing, extra = REQUIRED - names, names - REQUIRED - OPTIONAL
    assert not missing and not extra, (
        f"services/{service}/: missing {sorted(missing)}, not in the shape {sorted(extra)}"
    )


@pytest.mark.parametrize("service", topology.SERVICES)
def test_no_module_is_over_the_limit(service: str) -> None:
    long = {
        str(p.relative_to(SERVICES_DIR)): n
        for p in sources(service)
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them into a package): {long}"


@pytest.mark.parametrize("service", topology.SERVICES)
def test_no_service_uses_runtime_resources_or_writes_the_outbox_itself(service: str) -> None:
    found = [
        f"{p.relative_to(SERVICES_DIR)}:{i}: {what}"
        for p in sources(service)
        for i, line in enumerate(p.read_text().splitlines(), start=1)
        for what, pattern in FORBIDDEN.items()
        if pattern.search(line.split("#", 1)[0])
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("service", topology.SERVICES)
def test_the_domain_imports_nothing_of_its_service_but_errors(service: str) -> None:
    """Imports point down only: app -> api -> handlers -> (repository, domain, adapters); domain is the bottom."""
    root = SERVICES_DIR / service
    domain = [p for p in sources(service) if p.relative_to(root).parts[0] in {"domain.py", "domain"}]
    assert domain, f"services/{service}/ has no domain"
    allowed = {f"services.{service}.domain", f"services.{service}.errors"}
    upward = []
    for path in domain:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                inside = name == f"services.{service}" or name.startswith(f"services.{service}.")
                if inside and not any(name == a or name.startswith(a + ".") for a in allowed):
                    upward.append(f"{path.relative_to(SERVICES_DIR)}: {name}")
    assert not upward, upward


# A route builds a command and calls a handler through shared.messaging.run: it never holds a connection, opens a
# transaction or reaches a repository itself.
ROUTE_FORBIDDEN = re.compile(
    r"\.acquire\(|\.transaction\(|\bfrom services\.\w+(\.\w+)* import .*\brepository\b|\.repository\b"
)


@pytest.mark.parametrize("service", topology.SERVICES)
def test_routes_neither_open_transactions_nor_call_repositories(service: str) -> None:
    api = SERVICES_DIR / service / "api"
    files = sorted(api.rglob("*.py")) if api.is_dir() else [SERVICES_DIR / service / "api.py"]
    found = [
        f"{path.relative_to(SERVICES_DIR)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROUTE_FORBIDDEN.search(line)
    ]
    assert not found, found


@pytest.mark.parametrize("service", topology.SERVICES)
def test_the_spec_is_wired_from_the_declared_topology(service: str) -> None:
    spec = spec_of(service)
    declared = topology.of(service)
    assert spec.topology is declared
    assert spec.bootstrap is not None, "Deps come from the service's bootstrap"
    assert not hasattr(spec, "setup"), "the transitional setup= is retired: adapters open in the bootstrap"
    assert not (SERVICES_DIR / service / "app.py").read_text().count("subscriptions="), "consumers come from topology"
    assert set(spec.event_handlers) == {s.group for s in declared.subscriptions}


def test_a_handler_for_an_undeclared_group_or_a_group_without_handler_is_refused() -> None:
    settings = ReportingSettings(database_url="postgresql://x@h/d", kafka_bootstrap="h:1")
    assert REPORTING.topology is not None
    (group,) = [s.group for s in REPORTING.topology.subscriptions]
    handler = REPORTING.event_handlers[group]
    create_app(REPORTING, settings)  # as declared: accepted
    for handlers in ({}, {group: handler, "undeclared": handler}, {"renamed": handler}):
        with pytest.raises(ValueError, match="do not match the declared consumer groups"):
            create_app(replace(REPORTING, event_handlers=handlers), settings)

    async def prepare(_deps: Any, _events: Any) -> None:
        return None

    with pytest.raises(ValueError, match="do not match the declared consumer groups"):
        create_app(replace(REPORTING, prepare={"undeclared": prepare}), settings)
