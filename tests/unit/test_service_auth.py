"""shared.service wires authentication centrally: guarded routers, public routers, route rules checked at start."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter

from shared.auth import hash_api_key, new_api_key
from shared.service import ServiceSpec, create_app
from shared.settings import ServiceSettings

guarded = APIRouter(prefix="/v1")
public = APIRouter(prefix="/v1/webhooks")


@guarded.get("/things")
async def things() -> list[str]:
    return []


@guarded.post("/things")
async def add_thing() -> dict[str, str]:
    return {}


@guarded.post("/things/{thing_id}/review")
async def review(thing_id: int) -> dict[str, int]:
    return {"reviewed": thing_id}


@public.post("/receipts")
async def receipts() -> dict[str, str]:
    return {"ok": "signature checked by the route itself"}


KEYS = {role: new_api_key() for role in ("programme_admin", "verifier", "auditor", "nominator")}


def spec(route_roles: dict[str, set[str]]) -> ServiceSpec:
    return ServiceSpec(
        name="things",
        title="Things",
        settings_cls=ServiceSettings,
        migrations=Path("."),
        routers=[guarded],
        public_routers=[public],
        route_roles=route_roles,
    )


async def test_guarded_routes_follow_the_rules_and_public_ones_are_open() -> None:
    settings = ServiceSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        api_keys={
            hash_api_key(k): {"name": r, "role": r, "area": "64.08" if r == "nominator" else None}
            for r, k in KEYS.items()
        },
    )
    app = create_app(spec({"POST /v1/things/{thing_id}/review": {"verifier"}}), settings)
    expected = {  # (method, path) -> roles allowed; the default: reads for readers, writes for admins only
        ("GET", "/v1/things"): {"programme_admin", "verifier", "auditor"},
        ("POST", "/v1/things"): {"programme_admin"},
        ("POST", "/v1/things/7/review"): {"verifier"},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for (method, path), allowed in expected.items():
            assert (await client.request(method, path)).status_code == 401
            for role, key in KEYS.items():
                response = await client.request(method, path, headers={"X-API-Key": key})
                assert response.status_code == (200 if role in allowed else 403), (method, path, role)
        assert (await client.post("/v1/webhooks/receipts")).status_code == 200
        assert (await client.get("/openapi.json")).status_code == 200


def test_a_rule_for_a_route_that_does_not_exist_stops_the_start() -> None:
    settings = ServiceSettings(database_url="postgresql://unused/unused", kafka_bootstrap="unused:9092")
    with pytest.raises(ValueError, match="do not exist"):
        create_app(spec({"POST /v1/thing/{thing_id}/review": {"verifier"}}), settings)
