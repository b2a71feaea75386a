"""Every HTTP route of every service: no key gets 401, and each role gets exactly what the route's rule allows.

The expected rule is derived independently of the guard: the route table (``ServiceSpec.route_roles``) where it
names the route, otherwise reads for verifier, programme admin and auditor and writes for the programme admin only.
A request that passes the guard reaches the handler, which fails without a running service (no database): that
answer is anything but 401/403, which is all this test looks at.
"""

from __future__ import annotations

import importlib
import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from shared.auth import hash_api_key, new_api_key
from shared.service import ServiceSpec, create_app

SERVICES = ("nomination", "verification", "enrolment", "notification", "reporting")
KEYS = {role: new_api_key() for role in ("programme_admin", "verifier", "auditor", "nominator", "partner_agency")}
READERS = {"programme_admin", "verifier", "auditor"}
OPEN = ("/health/", "/metrics", "/docs", "/openapi.json", "/redoc")
EXTRA = {"nomination": {"person_key_secret": "unit-test-person-key-secret"}}


def _spec(service: str) -> ServiceSpec:
    return importlib.import_module(f"services.{service}.app").SPEC  # type: ignore[no-any-return]


def _app(service: str) -> Any:
    spec = _spec(service)
    settings = spec.settings_cls(  # type: ignore[call-arg]
        database_url="postgresql://unused:unused@127.0.0.1:1/unused",
        kafka_bootstrap="127.0.0.1:1",
        api_keys={
            hash_api_key(key): {"name": role, "role": role, "area": "64.08.01.2001" if role == "nominator" else None}
            for role, key in KEYS.items()
        },
        **EXTRA.get(service, {}),
    )
    return create_app(spec, settings)


def _public_paths(spec: ServiceSpec) -> set[str]:
    return {route.path for router in spec.public_routers for route in router.routes if isinstance(route, APIRoute)}


def _concrete(path: str) -> str:
    """A path template with plausible values: ids are UUIDs or numbers, channels and topics are names."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(uuid.uuid4()) if name.endswith("_id") and name != "review_id" else {"review_id": "1"}.get(name, "x")

    return re.sub(r"\{([a-z_]+)\}", value, path)


def _cases() -> list[tuple[str, str, str]]:
    """(service, method, path) of every documented route (FastAPI keeps included routers lazily: the OpenAPI
    document is the complete list of what a caller can reach)."""
    cases = []
    for service in SERVICES:
        public = _public_paths(_spec(service))
        for path, operations in _app(service).openapi()["paths"].items():
            if path.startswith(OPEN) or path in public:
                continue
            cases += [(service, method.upper(), path) for method in sorted(operations)]
    return cases


@pytest.mark.parametrize(("service", "method", "path"), _cases())
async def test_the_guard_of_every_route(service: str, method: str, path: str) -> None:
    spec = _spec(service)
    rule = spec.route_roles.get(f"{method} {path}")
    allowed = (
        {str(r) for r in rule} if rule is not None else (READERS if method in ("GET", "HEAD") else {"programme_admin"})
    )
    transport = httpx.ASGITransport(app=_app(service), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        url = _concrete(path)
        assert (await client.request(method, url)).status_code == 401, "no key must be refused"
        for role, key in KEYS.items():
            status = (await client.request(method, url, headers={"X-API-Key": key})).status_code
            if role in allowed:
                assert status not in (401, 403), (role, status)
            else:
                assert status == 403, (role, status)


def test_every_service_has_guarded_routes() -> None:
    by_service = {service for service, _, _ in _cases()}
    assert by_service == set(SERVICES)


@pytest.mark.parametrize(("service", "method", "path"), [c for c in _cases() if c[1] in ("POST", "PUT", "PATCH")])
async def test_an_anonymous_body_is_refused_before_it_is_read(service: str, method: str, path: str) -> None:
    """The key is checked before any body is read: a declared 50 MB body without a key gets 401 (not 413, not a
    parse error), as a problem document."""
    transport = httpx.ASGITransport(app=_app(service), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.request(
            method, _concrete(path), content=b"{}", headers={"Content-Length": str(50 * 1024 * 1024)}
        )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
