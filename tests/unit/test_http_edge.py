"""The HTTP edge (shared/http.py) as every service gets it from ``create_app``: the key before the body, body limits
before parsing, body and header timeouts, per-principal limits, control characters refused, one error format.

The body tests drive the ASGI app directly with a ``receive`` that counts what it hands out: "the body was not
read" is then a count, not a guess from memory figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from pydantic import BaseModel, Field, ValidationError

from shared.auth import hash_api_key, new_api_key
from shared.http import PROBLEM_JSON, field_errors, header_timeout_protocol
from shared.service import ServiceSpec, create_app
from shared.settings import ServiceSettings
from tests.waiting import wait_for

guarded = APIRouter(prefix="/v1")
public = APIRouter(prefix="/v1/hooks")
ADMIN, OTHER_ADMIN, AUDITOR = new_api_key(), new_api_key(), new_api_key()
SECRET_VALUE = "081234567890-do-not-echo"
MB = 1024 * 1024


class Thing(BaseModel):
    name: str = Field(max_length=10)
    phone: str = Field(pattern=r"^\d+$")


@guarded.post("/things")
async def add_thing(thing: Thing) -> dict[str, str]:
    return {"name": thing.name}


@guarded.get("/things")
async def list_things(q: str = "") -> dict[str, str]:
    return {"q": q}


@guarded.post("/things:bulk")
async def bulk(things: list[Thing]) -> dict[str, int]:
    return {"count": len(things)}


@public.post("/receipts")
async def receipts() -> dict[str, str]:
    return {"ok": "yes"}


def _app(**overrides: Any) -> Any:
    settings = ServiceSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        api_keys={
            hash_api_key(ADMIN): {"name": "admin", "role": "programme_admin"},
            hash_api_key(OTHER_ADMIN): {"name": "admin-2", "role": "programme_admin"},
            hash_api_key(AUDITOR): {"name": "auditor", "role": "auditor"},
        },
        **{"http_max_body_bytes": 1024, **overrides},
    )
    spec = ServiceSpec(
        name="things",
        title="Things",
        settings_cls=ServiceSettings,
        migrations=Path("."),
        routers=[guarded],
        public_routers=[public],
        body_limits=lambda _s: {"POST /v1/things:bulk": 8 * 1024},
    )
    return create_app(spec, settings)


class Body:
    """An ASGI ``receive`` that streams ``chunks`` of ``size`` bytes (forever when ``chunks`` is None)."""

    def __init__(self, size: int, chunks: int | None = None, stall: bool = False) -> None:
        self.size, self.chunks, self.stall = size, chunks, stall
        self.handed_out = 0

    async def __call__(self) -> dict[str, Any]:
        if self.stall:
            await asyncio.Event().wait()
        self.handed_out += 1
        more = self.chunks is None or self.handed_out < self.chunks
        return {"type": "http.request", "body": b"x" * self.size, "more_body": more}


async def _call(app: Any, method: str, path: str, headers: dict[str, str], receive: Body) -> tuple[int, dict, dict]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, json.loads(body)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_anonymous_huge_post_is_refused_before_a_byte_of_its_body_is_read(declared: bool) -> None:
    """8 anonymous 50 MB POSTs took verification from 96 to 622 MB: the key was checked after FastAPI read them."""
    body = Body(MB)  # endless: a handler that reads it would never finish
    headers = {"content-type": "application/json"} | ({"content-length": str(50 * MB)} if declared else {})
    status, response_headers, problem = await _call(_app(), "POST", "/v1/things", headers, body)
    assert (status, problem["code"], body.handed_out) == (401, "UNAUTHENTICATED", 0)
    assert response_headers["content-type"] == PROBLEM_JSON
    # a key without the role is refused as early (403), a wrong key too (401)
    forbidden = Body(MB)
    status, _, _ = await _call(_app(), "POST", "/v1/things", headers | {"x-api-key": AUDITOR}, forbidden)
    assert (status, forbidden.handed_out) == (403, 0)


async def test_an_authenticated_oversized_body_gets_413_as_soon_as_the_limit_is_passed() -> None:
    declared = Body(MB)
    status, _, problem = await _call(
        _app(), "POST", "/v1/things", {"x-api-key": ADMIN, "content-length": str(50 * MB)}, declared
    )
    assert (status, problem["code"], declared.handed_out) == (413, "BODY_TOO_LARGE", 0)
    streamed = Body(512)  # endless, no Content-Length
    status, _, _ = await _call(_app(), "POST", "/v1/things", {"x-api-key": ADMIN}, streamed)
    assert status == 413 and streamed.handed_out == 3  # 1536 bytes > 1024: stopped at the first chunk over


async def test_a_route_with_its_own_limit_takes_more_and_no_more() -> None:
    items = json.dumps([{"name": "a", "phone": "1"}] * 100).encode()  # ~2.8 kB: over the default, under 8 kB
    transport = httpx.ASGITransport(app=_app())
    headers = {"X-API-Key": ADMIN, "Content-Type": "application/json"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as client:
        assert (await client.post("/v1/things:bulk", content=items)).json() == {"count": 100}
        assert (await client.post("/v1/things", content=items)).status_code == 413
        assert (await client.post("/v1/things:bulk", content=items * 4)).status_code == 413


async def test_a_body_that_stops_arriving_gets_408() -> None:
    stalled = Body(10, stall=True)
    status, _, problem = await _call(
        _app(http_body_timeout_s=0.05), "POST", "/v1/things", {"x-api-key": ADMIN, "content-length": "20"}, stalled
    )
    assert (status, problem["code"]) == (408, "REQUEST_TIMEOUT")


async def test_each_principal_has_its_own_request_limit_answered_429_with_retry_after() -> None:
    transport = httpx.ASGITransport(app=_app(http_rate_limit="3/minute"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = [(await client.get("/v1/things", headers={"X-API-Key": ADMIN})).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        refused = await client.get("/v1/things", headers={"X-API-Key": ADMIN})
        assert refused.json()["code"] == "TOO_MANY_REQUESTS" and 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await client.get("/v1/things", headers={"X-API-Key": OTHER_ADMIN})).status_code == 200
        # an anonymous flood does not count against anyone, and is refused before any limit is consulted
        assert (await client.get("/v1/things")).status_code == 401


async def test_public_routes_are_limited_per_client_address() -> None:
    transport = httpx.ASGITransport(app=_app(http_public_rate_limit="2/minute"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert [(await client.post("/v1/hooks/receipts")).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/things?q=a%00b", {}),
        ("/v1/things?q=%1b[31m", {}),
        ("/v1/things", {"X-Trace": "a\x01b"}),
    ],
    ids=["NUL in query", "escape in query", "control character in a header"],
)
async def test_control_characters_in_query_or_headers_get_400(path: str, headers: dict[str, str]) -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(path, headers={"X-API-Key": ADMIN, **headers})
    assert (response.status_code, response.json()["code"]) == (400, "BAD_REQUEST")


async def test_every_error_is_a_problem_document_that_echoes_nothing() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers={"X-API-Key": ADMIN}) as client:
        invalid = await client.post("/v1/things", json={"name": SECRET_VALUE, "phone": SECRET_VALUE})
        not_json = await client.post("/v1/things", content=b'{"name": "' + SECRET_VALUE.encode())
        missing = await client.get("/v1/nowhere")
        wrong_method = await client.delete("/v1/things")
    assert invalid.status_code == 422 and SECRET_VALUE not in invalid.text
    problem = invalid.json()
    assert {"type", "title", "status", "code", "errors"} <= problem.keys() and problem["code"] == "INVALID_REQUEST"
    assert {e["field"] for e in problem["errors"]} == {"name", "phone"}
    assert all(set(e) == {"field", "message"} for e in problem["errors"])
    assert not_json.status_code == 422 and SECRET_VALUE not in not_json.text
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "METHOD_NOT_ALLOWED")
    for response in (invalid, not_json, missing, wrong_method):
        assert response.headers["content-type"] == PROBLEM_JSON


def test_the_openapi_document_names_the_problem_answers() -> None:
    document = _app().openapi()
    responses = document["paths"]["/v1/things"]["post"]["responses"]
    assert {"401", "403", "413", "422", "429"} <= responses.keys()
    assert responses["422"]["content"][PROBLEM_JSON]["schema"]["$ref"] == "#/components/schemas/ProblemDetails"
    assert "HTTPValidationError" not in document["components"]["schemas"]


@contextlib.asynccontextmanager
async def _server(header_timeout_s: float) -> AsyncIterator[int]:
    config = uvicorn.Config(
        _app(),
        host="127.0.0.1",
        port=0,
        http=header_timeout_protocol(header_timeout_s),
        log_config=None,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await wait_for(started, "uvicorn to listen", timeout=30)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def test_a_connection_that_never_finishes_its_request_head_is_closed() -> None:
    """uvicorn alone keeps a connection that sent half a request line open forever (no timer before the head)."""
    async with _server(header_timeout_s=0.2) as port:
        silent_reader, silent = await asyncio.open_connection("127.0.0.1", port)
        slow_reader, slow = await asyncio.open_connection("127.0.0.1", port)
        slow.write(b"GET /v1/things HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        await slow.drain()
        # read() returns b"" only when the server closed the connection; the wait_for bound only stops a hang
        assert await asyncio.wait_for(silent_reader.read(), 30) == b""
        assert await asyncio.wait_for(slow_reader.read(), 30) == b""
        silent.close()
        slow.close()
        # a complete request on a fresh connection is answered as usual
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /v1/things HTTP/1.1\r\nHost: t\r\nX-API-Key: {ADMIN}\r\nConnection: close\r\n\r\n".encode())
        assert (await asyncio.wait_for(reader.read(), 30)).startswith(b"HTTP/1.1 200")
        writer.close()


def test_an_unexpected_field_is_refused_without_naming_the_callers_key() -> None:
    # Found by bench.hostile (random JSON bodies): a 422 for an unknown key repeated the key, i.e. submitted text.
    class Strict(BaseModel, extra="forbid"):
        name: str

    try:
        Strict.model_validate({"name": "x", "6408014501900001": {"ZQX123": 1}})
    except ValidationError as exc:
        errors = field_errors(exc.errors(), drop_body=False)
    assert errors == [("body", "has a field that is not part of the schema")]
    assert "6408014501900001" not in json.dumps(errors)
