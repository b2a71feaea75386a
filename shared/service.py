"""The runtime every service shares: one lifespan, health endpoints and a ``migrate`` / ``serve`` command line.

A service describes itself with a ``ServiceSpec``: its settings class, migrations, its topology (what it consumes, in
which groups: ``services/<name>/topology.py``), its bootstrap (which builds the service's frozen ``Deps`` once),
the event handler of each consumer group, its background jobs (shared/jobs.py) and its HTTP routers;
``create_app`` wires it. Resources (pool, broker, producer, relay) are created in the lifespan and
closed there, in the reverse order, so a SIGTERM lets in-flight batches commit and the outbox drain before exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from starlette.routing import Route
from typing_extensions import TypeVar  # a TypeVar default (PEP 696) needs Python 3.13's typing

from shared import auth, db, http, logs, metrics, outbox, retention, signing
from shared import topology as topo
from shared.consumer import Consumer
from shared.contracts import Envelope
from shared.db import Conn
from shared.jobs import Job
from shared.messaging import EventHandler, Prepare, Wired
from shared.settings import ServiceSettings

log = logs.get_logger(__name__)

# The service's own settings class: ``Runtime[NominationSettings]`` in a service's routes gives typed settings;
# plain ``Runtime`` (shared code) sees the common ``ServiceSettings``.
SettingsT = TypeVar("SettingsT", bound=ServiceSettings, default=ServiceSettings)
# The service's dependencies, built by its bootstrap and passed first to every handler.
DepsT = TypeVar("DepsT", bound=Wired, default=Any)
T = TypeVar("T")


@dataclass
class Runtime(Generic[SettingsT]):
    """A running service: its settings, pool, relay, broker, consumers and jobs, and the Deps its bootstrap built
    (what handlers get; routes reach them through ``deps_of``)."""

    settings: SettingsT
    pool: asyncpg.Pool
    relay: outbox.OutboxRelay
    broker: KafkaBroker
    consumers: list[Consumer[Any]] = field(default_factory=list)
    deps: Any = None  # the service's Deps, once its bootstrap built them
    jobs: list[Job] = field(default_factory=list)


@dataclass(frozen=True)
class ServiceSpec(Generic[SettingsT, DepsT]):
    name: str
    settings_cls: type[SettingsT]
    migrations: Path
    title: str
    # What the service consumes (its consumer groups) and produces, declared in services/<name>/topology.py.
    topology: topo.Topology | None = None
    # Builds the service's Deps from the runtime (adapters opened, closed when the context ends).
    bootstrap: Callable[[Runtime[SettingsT]], contextlib.AbstractAsyncContextManager[DepsT]] | None = None
    # The handler of each consumer group of the topology (exactly its groups), and what runs before a batch's
    # transaction where a group needs it (shared/messaging.py).
    event_handlers: Mapping[str, EventHandler[DepsT]] = field(default_factory=dict)
    prepare: Mapping[str, Prepare[DepsT]] = field(default_factory=dict)
    # The service's background jobs, started after its consumers and stopped before the relay drains.
    jobs: Callable[[DepsT], Sequence[Job]] = lambda _deps: ()
    routers: Sequence[APIRouter] = ()
    # Roles allowed per route, as {"GET /v1/things/{thing_id}": {"verifier", ...}}; a route not listed gets
    # shared.auth.default_roles (reads: verifier, programme_admin, auditor; writes: programme_admin).
    route_roles: Mapping[str, Collection[str]] = field(default_factory=dict)
    # Routes that authenticate their callers themselves (a provider's signed webhook) or serve nothing personal
    # (a dashboard's static page): no API key required. Keep this list short.
    public_routers: Sequence[APIRouter] = ()
    # Body limits of routes that legitimately need more (or less) than ``http_max_body_bytes``, as
    # {"POST /v1/things:batch": bytes}, from the service's settings (shared.http.Edge).
    body_limits: Callable[[SettingsT], Mapping[str, int]] = lambda _settings: {}


def deps_of(request: Request, cls: type[T]) -> T:
    """The running service's ``Deps`` (for a route's dependency: ``Depends(bootstrap.deps)``)."""
    deps = request.app.state.runtime.deps
    if not isinstance(deps, cls):
        raise TypeError(f"the running service's deps are not {cls.__name__}")
    return deps


async def runtime(request: Request) -> Runtime:
    """FastAPI dependency: the running service's resources. ``async`` although it awaits nothing: FastAPI runs a
    plain ``def`` dependency in its thread pool, a thread hand-off on every request (seen in the profiles)."""
    rt: Runtime = request.app.state.runtime
    return rt


def create_app(spec: ServiceSpec[SettingsT, Any], settings: SettingsT | None = None) -> FastAPI:
    settings = settings or spec.settings_cls()
    logs.configure(spec.name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(spec, settings) as rt:
            app.state.runtime = rt
            yield

    app = FastAPI(title=spec.title, version="1", lifespan=lifespan)
    app.state.authenticator = auth.Authenticator.from_settings(settings)
    http.install_error_format(app)
    # The edge (shared/http.py) authenticates, rate-limits and bounds the body before FastAPI reads it; the
    # metrics middleware sits outside it, so refused requests are counted too.
    app.add_middleware(
        http.Edge,
        authenticator=app.state.authenticator,
        guarded=[route for router in spec.routers for route in router.routes],
        public=[route for router in spec.public_routers for route in router.routes],
        route_roles=spec.route_roles,
        max_body_bytes=settings.http_max_body_bytes,
        body_limits=spec.body_limits(settings),
        body_timeout_s=settings.http_body_timeout_s,
        rate_limit=settings.http_rate_limit or None,
        public_rate_limit=settings.http_public_rate_limit or None,
        rate_limit_storage=settings.http_rate_limit_storage,
    )
    app.add_middleware(metrics.HttpMetrics)
    # Health, metrics and the API docs are open (no personal data; probes and scrapers carry no credentials);
    # every route of the service itself requires a principal whose role the route allows (checked by the edge
    # before the body is read, and again by the guard dependency).
    app.include_router(_health_router())
    guard = Depends(auth.route_guard(spec.route_roles))
    for router in spec.routers:
        app.include_router(router, dependencies=[guard], responses=http.GUARDED_RESPONSES)
    for router in spec.public_routers:
        app.include_router(router, responses=http.EDGE_RESPONSES)
    _check_route_roles(spec)
    _check_handlers(spec)
    return app


def _check_route_roles(spec: ServiceSpec[Any, Any]) -> None:
    """A rule for a route that does not exist is a typo that would silently leave the default in force."""
    routes = {
        auth.route_key(method, route.path)
        for router in spec.routers
        for route in router.routes
        if isinstance(route, Route)  # only a Route has methods (a mount or a websocket route has none)
        for method in route.methods or ()
    }
    unknown = set(spec.route_roles) - routes
    if unknown:
        raise ValueError(f"{spec.name}: route_roles for routes that do not exist: {sorted(unknown)}")


@contextlib.asynccontextmanager
async def _running(spec: ServiceSpec[SettingsT, Any], settings: SettingsT) -> AsyncIterator[Runtime[SettingsT]]:
    signing.configure(spec.name)  # no signing key or no trusted keys: refuse to start
    pool = await db.create_pool(settings.database_url, settings.db_pool_min, settings.db_pool_max)

    def make_producer() -> AIOKafkaProducer:
        return outbox.new_producer(
            settings.kafka_bootstrap, client_id=f"{spec.name}-relay", **settings.kafka_client_options()
        )

    producer = make_producer()
    relay = outbox.OutboxRelay(
        settings.database_url,
        producer,
        producer_factory=make_producer,
        batch_size=settings.outbox_batch_size,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        graceful_timeout=settings.shutdown_grace_s,
        logger=None,
        security=settings.kafka_security(),
    )
    rt = Runtime(settings=settings, pool=pool, relay=relay, broker=broker)
    tasks: list[asyncio.Task[None]] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            if spec.bootstrap is not None:
                rt.deps = await stack.enter_async_context(spec.bootstrap(rt))
                rt.jobs = list(spec.jobs(rt.deps))
            if settings.retention_enabled:  # daily; one replica at a time (an advisory lock, shared/retention.py)
                rt.jobs.append(retention.job(pool, spec.name, settings))
            if spec.topology is not None:
                for declared in spec.topology.subscriptions:
                    _subscribe(rt, spec, declared)
            await producer.start()
            tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))
            tasks += [asyncio.create_task(job.run(), name=f"job-{job.name}") for job in rt.jobs]
            try:
                # inside the try: a start that fails half-way (Kafka unreachable) has made consumers to stop
                await broker.start()
                log.info("service started", http_port=settings.http_port, consumers=[c.name for c in rt.consumers])
                yield rt
            finally:
                log.info("service stopping")
                await broker.stop()  # waits for in-flight batches (graceful_timeout)
                for task in tasks[1:]:
                    task.cancel()
                await relay.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await relay.producer.stop()  # the relay may have replaced the first one
        await pool.close()
        log.info("service stopped")


def _check_handlers(spec: ServiceSpec[Any, Any]) -> None:
    """The bootstrap binds a handler to every declared group and to nothing else: a handler without a declaration
    would consume undocumented, a declaration without a handler would document a consumer that does not run."""
    if spec.topology is None:
        return
    groups = {s.group for s in spec.topology.subscriptions}
    if set(spec.event_handlers) != groups or not set(spec.prepare) <= groups:
        raise ValueError(
            f"{spec.name}: event handlers {sorted(spec.event_handlers)} (prepare {sorted(spec.prepare)}) "
            f"do not match the declared consumer groups {sorted(groups)}"
        )


def _subscribe(rt: Runtime[Any], spec: ServiceSpec[Any, Any], declared: topo.Subscription) -> None:
    """One Kafka consumer for one declared group: its topics fetched together, one transaction per batch, the
    group's handler bound to the service's deps; each topic keeps its inbox name ``<service>.<topic>``."""
    settings, deps = rt.settings, rt.deps
    handler, prepare = spec.event_handlers[declared.group], spec.prepare.get(declared.group)

    async def bound(conn: Conn, events: Sequence[Envelope[Any]]) -> Sequence[Envelope[Any]]:
        return await handler(deps, conn, events)

    async def prepared(events: Sequence[Envelope[Any]]) -> None:
        if prepare is not None:
            await prepare(deps, events)

    first, *more = declared.events
    consumer: Consumer[Any] = Consumer(
        name=f"{spec.name}.{declared.group}",
        topic=settings.topic(first.topic),
        payload=first,
        handler=bound,
        pool=rt.pool,
        max_attempts=settings.retry_max_attempts,
        stall_after_s=settings.consumer_stall_seconds,
        inbox_name=f"{spec.name}.{first.topic}",
        more={settings.topic(e.topic): (e, f"{spec.name}.{e.topic}") for e in more},
        topic_prefix=settings.topic_prefix,
        prepare=prepared if prepare is not None else None,
    )
    rt.consumers.append(consumer)

    async def on_batch(message: KafkaMessage) -> None:
        records = message.raw_message
        await consumer.process(records if isinstance(records, tuple) else (records,))

    rt.broker.subscriber(
        *consumer.topics,
        group_id=settings.topic_prefix + consumer.name,
        batch=True,
        max_records=settings.consumer_max_records,
        batch_timeout_ms=settings.consumer_batch_timeout_ms,
        auto_offset_reset="earliest",
        ack_policy=declared.ack_policy,  # NACK_ON_ERROR: commit after the transaction, rewind on a failed batch
        title=f"{consumer.name}:consume",
    )(on_batch)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        rt: Runtime | None = getattr(request.app.state, "runtime", None)
        if rt is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        checks: dict[str, Any] = {}
        try:
            async with asyncio.timeout(2):
                checks["outbox_backlog"] = await outbox.backlog(rt.pool)
                checks["outbox_parked"] = await outbox.parked_count(rt.pool)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = type(exc).__name__
        checks["kafka"] = "ok" if await rt.broker.ping(timeout=2) else "unreachable"
        checks["relay"] = {"leader": rt.relay.is_leader, "published": rt.relay.published, "error": rt.relay.last_error}
        checks["consumers"] = {c.name: vars(c.stats) for c in rt.consumers}
        if rt.jobs:
            checks["jobs"] = {job.name: job.health() for job in rt.jobs}
        stalls = _stalls(rt, checks.get("outbox_backlog"))
        if stalls:
            checks["stalled"] = stalls
        ok = checks["database"] == "ok" and checks["kafka"] == "ok" and not stalls
        return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)

    @router.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        rt: Runtime | None = getattr(request.app.state, "runtime", None)
        if rt is not None:
            backlog = await metrics.sample_outbox(rt.pool, rt.relay.is_leader)
            _stalls(rt, backlog)  # sets the stall gauges
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    return router


def _stalls(rt: Runtime, backlog: int | None) -> dict[str, str]:
    """What has stopped advancing, with why (consumer name or "relay" -> reason); sets the stall gauges."""
    stalls: dict[str, str] = {}
    for c in rt.consumers:
        failing = c.stalled_for()
        if failing:
            stalls[c.name] = f"failing on the same batch for {failing:.0f} s (limit {c.stall_after_s:.0f} s)"
    relay_stalled = rt.relay.stalled_for(backlog) if backlog is not None else 0.0
    limit = rt.settings.relay_stall_seconds
    metrics.RELAY_STALLED.set(1 if relay_stalled > limit else 0)
    if relay_stalled > limit:
        error = f", last error {rt.relay.last_error}" if rt.relay.last_error else ""
        stalls["relay"] = f"{backlog} rows pending, nothing published for {relay_stalled:.0f} s{error}"
    return stalls


Command = Callable[[ServiceSettings, list[str]], int]


def main(spec: ServiceSpec[Any, Any], app_path: str, commands: dict[str, Command] | None = None) -> None:
    """``python -m services.<name> migrate|serve|<extra command> [args]``; extra commands get the remaining args."""
    commands = commands or {}
    parser = argparse.ArgumentParser(prog=f"services.{spec.name}")
    parser.add_argument("command", choices=["migrate", "serve", *commands])
    args, rest = parser.parse_known_args()
    settings = spec.settings_cls()
    logs.configure(spec.name, settings.log_level)
    if args.command in commands:
        signing.configure(spec.name)  # operator commands may write events (a registry load): signed like the rest
        raise SystemExit(commands[args.command](settings, rest))
    if args.command == "migrate":
        applied = db.migrate(settings.database_url, spec.migrations)
        log.info("migrations applied", count=applied)
        return
    uvicorn.run(
        app_path,
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
        # Half-open and slow connections (docs/security.md, "The HTTP edge"): the head must arrive within
        # http_header_timeout_s, an idle keep-alive connection closes after http_keep_alive_s, and beyond
        # http_limit_concurrency connections and tasks new requests get 503 instead of queueing without bound.
        http=http.header_timeout_protocol(settings.http_header_timeout_s),
        timeout_keep_alive=settings.http_keep_alive_s,
        limit_concurrency=settings.http_limit_concurrency,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
    )
