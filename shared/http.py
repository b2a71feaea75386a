"""The HTTP edge every service shares: what a request must pass before any route code or body parser sees it,
and the one error format of every answer (RFC 9457 problem details).

``Edge`` is a pure ASGI middleware, installed by ``shared.service.create_app`` in front of FastAPI. For each request
it, in this order and before reading a single body byte:
1. refuses control characters (NUL...) in the path, the query string and header values: 400;
2. finds the route; on a guarded route (every route but health, metrics, the API docs and the service's public
   routers) authenticates the caller from its headers (401) and checks the route's roles (403). FastAPI reads
   and parses the body before it resolves dependencies, so a dependency alone would let an anonymous caller make
   the service read 50 MB; the ``principal`` dependency then finds the caller in ``scope["state"]``;
3. counts the request against the caller's limit (per principal; per client address on public routes): 429 with
   ``Retry-After``;
4. refuses a declared ``Content-Length`` over the route's limit (413), then counts the bytes as they stream and
   answers 413 as soon as the limit is passed, and 408 when the client stops sending the body for longer than
   the body timeout.

``HeaderTimeoutProtocol`` closes connections whose request head does not arrive in time (uvicorn has no such
timer: a connection that sends half a request line stays open forever). See docs/security.md, "The HTTP edge".
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.parse
from collections.abc import Collection, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared import auth, metrics
from shared.logs import get_logger

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_CONTROL = frozenset(range(0x20)) - {0x09} | {0x7F}


# ------------------------------------------------------------------------------------------- problem details
class FieldProblem(BaseModel):
    field: str = Field(description="Where: a dotted path (nik, address.desa_code, query.limit, header.X-...)")
    message: str = Field(description="Why; never the submitted value")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; ``code`` (a stable machine-readable reason) and ``errors`` (one reason per field)
    are extension members. No member ever repeats a submitted value."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="about:blank: the status code says it all")
    title: str
    status: int
    detail: str | None = None
    code: str
    errors: list[FieldProblem] = []


_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "BODY_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_ERROR",
}


def problem(
    status: int,
    detail: str | None = None,
    *,
    code: str | None = None,
    errors: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json answer. ``extra`` adds extension members (e.g. ``nomination_id``)."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "code": code or _CODES.get(status, HTTPStatus(status).name),
        "errors": [{"field": f, "message": m} for f, m in errors],
    }
    if detail is not None:
        body["detail"] = detail
    body |= {k: v for k, v in extra.items() if v is not None}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def field_errors(errors: Sequence[Any], drop_body: bool = True) -> list[tuple[str, str]]:
    """pydantic/FastAPI errors -> (field, reason) pairs: ``loc`` and ``msg`` only, never ``input`` or ``ctx``."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if drop_body and loc and loc[0] == "body":
            loc = loc[1:]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden" and loc:
            # The last segment is the caller's own key, i.e. submitted text (a NIK used as a key, markup): name the
            # object that has it, never the key itself.
            loc, message = loc[:-1], "has a field that is not part of the schema"
        out.append((".".join(loc) or "body", message))
    return out


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem(422, "the request is not valid", errors=field_errors(exc.errors()))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(exc.status_code, detail, headers=exc.headers)


async def _auth_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, auth.AuthError)
    return _auth_problem(exc)


async def _server_error(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", error_type=type(exc).__name__)
    return problem(500, "the service failed to answer; the error is logged")


def _auth_problem(exc: auth.AuthError) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="payung"'} if exc.status == 401 else None
    return problem(exc.status, exc.message, code=exc.code, headers=headers)


def install_error_format(app: FastAPI) -> None:
    """Every error of ``app`` as problem+json: validation (no ``input`` echoed), HTTP errors (FastAPI's and
    Starlette's own 404/405), authentication, and anything unhandled (500 without details)."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(auth.AuthError, _auth_error)
    app.add_exception_handler(Exception, _server_error)


def _doc(description: str) -> dict[str, Any]:
    ref = {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    return {"model": ProblemDetails, "description": description, "content": {PROBLEM_JSON: ref}}


EDGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Control characters in the path, query or headers; a malformed body"),
    408: _doc("The body did not arrive within the body timeout"),
    413: _doc("The body is larger than this route accepts"),
    422: _doc("Invalid parameters or body: one reason per field in `errors`"),
    429: _doc("Over the caller's request limit: retry after `Retry-After` seconds"),
}
GUARDED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **EDGE_RESPONSES,
    401: _doc("No or bad credentials"),
    403: _doc("The caller's role or area does not allow this"),
}


# ---------------------------------------------------------------------------------------------------- the edge
class _TooLarge(StarletteHTTPException):
    """Raised from ``receive``: an HTTPException, because FastAPI turns any other error met while it reads the
    body into a 400 and lets only HTTPExceptions through (to ``install_error_format``'s handler)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request bodies here are limited to {max_bytes} bytes")


class _BodyTimeout(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(408, "the request body did not arrive in time", headers={"Connection": "close"})


class Edge:
    """See the module docstring. ``guarded`` and ``public`` are the service's routes (its routers' own route
    objects: FastAPI includes routers lazily, so the app's route list does not name them)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: auth.Authenticator,
        guarded: Sequence[BaseRoute],
        public: Sequence[BaseRoute],
        route_roles: Mapping[str, Collection[str]],
        max_body_bytes: int,
        body_limits: Mapping[str, int],
        body_timeout_s: float,
        rate_limit: str | None,
        public_rate_limit: str | None,
        rate_limit_storage: str = "memory://",
    ) -> None:
        self.app = app
        self._authenticator = authenticator
        self._routes = [(route, False) for route in guarded] + [(route, True) for route in public]
        self._rules = {key: frozenset(auth.Role(r) for r in roles) for key, roles in route_roles.items()}
        self._max_body = max_body_bytes
        self._body_limits = dict(body_limits)
        self._body_timeout_s = body_timeout_s
        self._limits: list[RateLimitItem] = parse_many(rate_limit) if rate_limit else []
        self._public_limits: list[RateLimitItem] = parse_many(public_rate_limit) if public_rate_limit else []
        uri = rate_limit_storage if rate_limit_storage.startswith("async+") else "async+" + rate_limit_storage
        storage = storage_from_string(uri)
        assert isinstance(storage, Storage)
        self._limiter = MovingWindowRateLimiter(storage)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = _refuse_controls(scope)
        if refused is not None:
            await problem(400, refused)(scope, receive, send)
            return
        method: str = scope["method"]
        found = self._route(scope)
        if found is None:
            await self.app(scope, receive, send)  # open routes, 404 and 405: none of them reads a body
            return
        template, is_public = found
        scope.setdefault("state", {})[metrics.ROUTE_TEMPLATE] = template  # a refusal below still counts by route
        key = auth.route_key(method, template)
        if is_public:
            caller_key, limits = f"client:{_client(scope)}", self._public_limits
        else:
            try:
                caller = self._authenticate(scope)
            except auth.AuthError as exc:
                await _auth_problem(exc)(scope, receive, send)
                return
            allowed = self._rules.get(key, auth.default_roles(method))
            if caller.role not in allowed:
                await _auth_problem(auth.AuthError(403, "FORBIDDEN", f"role {caller.role} may not {key}"))(
                    scope, receive, send
                )
                return
            scope.setdefault("state", {})["principal"] = caller
            caller_key, limits = f"principal:{caller.name}", self._limits
        retry_after = await self._over_limit(caller_key, limits)
        if retry_after is not None:
            response = problem(429, "too many requests for this caller", headers={"Retry-After": str(retry_after)})
            await response(scope, receive, send)
            return
        await self._with_body_limit(scope, receive, send, self._body_limits.get(key, self._max_body))

    def _route(self, scope: Scope) -> tuple[str, bool] | None:
        """The matched service route's path template and whether it is public; None when no service route serves
        this method and path (health, docs, or FastAPI's 404/405)."""
        for route, is_public in self._routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "path", scope["path"])), is_public
        return None

    def _authenticate(self, scope: Scope) -> auth.Principal:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        api_key = headers.get("x-api-key")
        bearer = None
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            bearer = credentials.strip()
        return self._authenticator.authenticate(api_key, bearer)

    async def _over_limit(self, key: str, limits: Sequence[RateLimitItem]) -> int | None:
        """Seconds to wait when ``key`` is over one of ``limits`` (the request is then not counted), else None."""
        for item in limits:
            if not await self._limiter.hit(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

    async def _with_body_limit(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await problem(413, f"request bodies here are limited to {max_bytes} bytes")(scope, receive, send)
            return
        seen = 0
        started = False
        timeout_s = self._body_timeout_s

        async def limited_receive() -> Message:
            nonlocal seen
            try:
                async with asyncio.timeout(timeout_s):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeout from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (_TooLarge, _BodyTimeout) as exc:  # raised where no exception handler was in the way
            if not started:
                await problem(exc.status_code, exc.detail, headers=exc.headers)(scope, receive, send)


def _refuse_controls(scope: Scope) -> str | None:
    """Why the request's path, query string or headers are refused (control characters), or None."""
    if any(ord(c) in _CONTROL for c in scope.get("path", "")):
        return "the path holds control characters"
    raw = scope.get("query_string", b"")
    if raw and any(ord(c) in _CONTROL for c in urllib.parse.unquote(raw.decode("latin-1"), encoding="latin-1")):
        return "the query string holds control characters"
    for name, value in scope.get("headers", ()):
        if any(b in _CONTROL for b in value):
            return f"header {name.decode('latin-1')} holds control characters"
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# -------------------------------------------------------------------------------------------- header timeout
class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a timer from the connection's first byte of a request (and from the
    connection itself) until its head is complete: a client that never finishes its request line and headers is
    disconnected after ``header_timeout_s`` instead of holding the connection open forever."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's own
        super().connection_made(transport)
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        timer = getattr(self, "_header_timer", None)
        if timer is not None:
            timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this header timeout."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": seconds})
