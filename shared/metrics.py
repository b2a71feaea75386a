"""Prometheus metrics every service exposes on ``GET /metrics``.

Labels are bounded and never personal: consumer names, topics, route templates (``/v1/nominations/{nomination_id}``,
never the raw path: ids are not labels), methods, status codes and exception class names. The consumer and the
outbox relay count as they go; the outbox backlog is sampled when Prometheus scrapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

EVENTS_CONSUMED = Counter(
    "payung_events_consumed_total",
    "Events a consumer received and committed, by result: processed (applied) or duplicate (inbox no-op)",
    ["consumer", "topic", "result"],
)
DEAD_LETTERS = Counter(
    "payung_dead_letters_total", "Messages a consumer sent to the dead-letter topic", ["consumer", "topic"]
)
HANDLER_ERRORS = Counter(
    "payung_handler_errors_total",
    "Failures while processing a batch: transient (retried) or permanent (the batch is isolated, events dead-lettered)",
    ["consumer", "kind", "error_type"],
)
RETRIES = Counter("payung_consumer_retries_total", "Batch retries after a transient failure", ["consumer"])
BATCH_SECONDS = Histogram(
    "payung_consumer_batch_seconds",
    "Time to process one consumer batch, retries included",
    ["consumer"],
    buckets=_LATENCY_BUCKETS,
)
BATCH_EVENTS = Histogram(
    "payung_consumer_batch_events",
    "Records per consumer batch",
    ["consumer"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000),
)
EVENTS_PUBLISHED = Counter("payung_events_published_total", "Events the outbox relay published, by topic", ["topic"])
OUTBOX_BACKLOG = Gauge("payung_outbox_backlog", "Outbox rows not yet published (sampled at scrape)")
OUTBOX_OLDEST = Gauge(
    "payung_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (sampled at scrape)"
)
RELAY_LEADER = Gauge("payung_relay_leader", "1 if this replica's relay holds the outbox lock")
OUTBOX_PARKED = Gauge(
    "payung_outbox_parked_rows",
    "Outbox rows the broker refused for good, set aside in outbox_parked (sampled at scrape)",
)
OUTBOX_PARKED_TOTAL = Counter(
    "payung_outbox_parked_total", "Outbox rows parked by the relay, by topic and error", ["topic", "error_type"]
)
CONSUMER_STALLED = Gauge(
    "payung_consumer_stalled",
    "1 while a consumer has failed on the same batch for longer than PAYUNG_CONSUMER_STALL_SECONDS",
    ["consumer"],
)
RELAY_STALLED = Gauge(
    "payung_relay_stalled",
    "1 while the outbox relay has rows pending and has not advanced for longer than PAYUNG_RELAY_STALL_SECONDS",
)
RETENTION_DELETED = Counter(
    "payung_retention_deleted_total", "Rows the retention job deleted (shared/retention.py), by table", ["table"]
)
RETENTION_LAST_RUN = Gauge(
    "payung_retention_last_run_timestamp_seconds",
    "Unix time the retention job last finished on this service's database (as this replica last saw it; 0 before)",
)
HTTP_REQUESTS = Counter("payung_http_requests_total", "HTTP requests by route template", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "payung_http_request_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
)


def count_published(topics: Iterable[str]) -> None:
    counts: dict[str, int] = {}
    for topic in topics:
        counts[topic] = counts.get(topic, 0) + 1
    for topic, n in counts.items():
        EVENTS_PUBLISHED.labels(topic).inc(n)


async def sample_outbox(pool: asyncpg.Pool, relay_leader: bool) -> int | None:
    """Refresh the sampled gauges and return the backlog; a database that does not answer leaves the last values
    and returns None (the scrape goes on)."""
    RELAY_LEADER.set(1 if relay_leader else 0)
    try:
        async with asyncio.timeout(2):
            row = await pool.fetchrow(
                "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age,"
                " (SELECT count(*) FROM outbox_parked) AS parked FROM outbox"
            )
    except Exception:  # a scrape must not fail because the database is slow; readiness reports it
        return None
    assert row is not None  # an aggregate without GROUP BY returns exactly one row
    OUTBOX_BACKLOG.set(row["n"])
    OUTBOX_OLDEST.set(float(row["age"]))
    OUTBOX_PARKED.set(row["parked"])
    return int(row["n"])


def exposition() -> tuple[bytes, str]:
    """The text format of every metric of this process, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# Where the edge leaves the route template it matched (``scope["state"]``), for the request counter.
ROUTE_TEMPLATE = "payung_route_template"


class HttpMetrics:
    """ASGI middleware: count and time requests by the route template the router matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception that escapes is answered 500 by the server error middleware
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = _route_template(scope)
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_SECONDS.labels(scope["method"], route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    """The route's template (``/v1/nominations/{nomination_id}``), never the path with its ids. A request the edge
    answered before routing (401, 403, 413, 429) has no route in its scope: the edge left the template it matched
    in the scope's state (shared/http.py ``Edge``), so the refusal is counted under its route, not "unmatched"."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or scope.get("state", {}).get(ROUTE_TEMPLATE) or "unmatched")
