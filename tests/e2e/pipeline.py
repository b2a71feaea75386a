"""The four services as real processes on the real Kafka and PostgreSQL, for end-to-end tests.

A ``Pipeline`` has its own databases, topic prefix, ports, registry snapshot and message spool, so it shares
nothing with another pipeline or with a developer's running stack. Services are started through deploy/native/stack.py,
the same code that ``./payung up`` uses.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from deploy.native import apikeys, stack
from deploy.native.config import REPO_ROOT, SERVICES, StackTestConfig
from shared.keys import person_key
from shared.topics import all_topics, ensure_topics
from shared.topology import owner
from tests.waiting import wait_for

SECRET = "e2e-person-key-secret-0123456789"
FINAL = {"notified", "rejected", "enrolled", "waitlisted"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Pipeline:
    cfg: StackTestConfig
    kafka_bootstrap: str
    db_urls: dict[str, str]
    env: dict[str, dict[str, str]]
    messages_file: Path
    api_keys: dict[str, str] = field(default_factory=dict)  # account (admin, nominator, ...) -> key
    pools: dict[str, asyncpg.Pool] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.cfg.topic_prefix

    def url(self, service: str, path: str = "") -> str:
        return f"http://{self.cfg.host}:{self.cfg.service_port(service)}{path}"

    def topic(self, name: str) -> str:
        return self.prefix + name

    def person_key(self, nik: str) -> str:
        return person_key(nik, SECRET)

    # ------------------------------------------------------------------------------------------- processes
    def start(self, service: str) -> int:
        return stack.start_service(self.cfg, service, self.env[service])

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hooks, no flush, the way a crash or an OOM kill ends a process."""
        assert stack.kill_service(self.cfg, service, signal.SIGKILL), f"{service} was not running"

    def stop_all(self) -> None:
        stack.stop_services(self.cfg)

    def log(self, service: str) -> str:
        return stack.log_file(self.cfg, service).read_text(errors="replace")

    # ----------------------------------------------------------------------------------------------- HTTP
    async def submit(
        self, client: httpx.AsyncClient, request: dict[str, Any], key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return await client.post(self.url("nomination", "/v1/nominations"), json=request, headers=headers)

    async def submit_until_answered(
        self, client: httpx.AsyncClient, request: dict[str, Any], key: str, timeout: float = 60
    ) -> httpx.Response:
        """Retry a POST (same Idempotency-Key) through connection errors, as a careful client does."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return await self.submit(client, request, key)
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def nomination(self, client: httpx.AsyncClient, nomination_id: str) -> dict[str, Any]:
        response = await client.get(self.url("nomination", f"/v1/nominations/{nomination_id}"))
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def wait_status(
        self, client: httpx.AsyncClient, nomination_id: str, statuses: Iterable[str], timeout: float = 90
    ) -> dict[str, Any]:
        wanted = set(statuses)

        async def check() -> dict[str, Any] | None:
            view = await self.nomination(client, nomination_id)
            return view if view["status"] in wanted else None

        return await wait_for(check, f"nomination {nomination_id} to reach {sorted(wanted)}", timeout)

    # ------------------------------------------------------------------------------------------- databases
    async def db(self, service: str) -> asyncpg.Pool:
        if service not in self.pools:
            self.pools[service] = await asyncpg.create_pool(self.db_urls[service], min_size=1, max_size=2)
        return self.pools[service]

    async def fetchval(self, service: str, query: str, *args: Any) -> Any:
        return await (await self.db(service)).fetchval(query, *args)

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()

    # ---------------------------------------------------------------------------------------------- Kafka
    def signature(self, topic: str, value: bytes, producer: str | None = None) -> list[tuple[str, bytes]]:
        """Kafka headers signing ``value`` on ``topic`` (logical name) with this pipeline's key of ``producer``
        (default: the topic's owner): what that service's relay would send."""
        signer = stack.event_signers(self.cfg)[producer or owner(topic)]
        return [(k, v.encode()) for k, v in signer.headers(self.topic(topic), value)]

    async def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Write one record to ``topic`` (logical name): signed as its owner unless ``headers`` are given."""
        producer = AIOKafkaProducer(bootstrap_servers=self.kafka_bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            signature = self.signature(topic, value) if headers is None else headers
            await producer.send_and_wait(self.topic(topic), value, key=key, headers=signature)
        finally:
            await producer.stop()

    async def read_topic(self, topic: str) -> list[Any]:
        """Every record currently in ``topic`` (all partitions, from the beginning), without a consumer group."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            name = self.topic(topic)
            (spec,) = [t for t in all_topics(self.prefix) if t.name == name]  # partitions as declared
            partitions = [TopicPartition(name, p) for p in range(spec.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            records: list[Any] = []
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(timeout_ms=1000)
                for recs in batch.values():
                    records += recs
            return records
        finally:
            await consumer.stop()


async def build_pipeline(
    kafka_bootstrap: str,
    create_database: Callable[[str], Awaitable[str]],
    workdir: Path,
    prefix: str,
    registry_csv: Path,
    funding_sources: list[dict[str, Any]],
) -> Pipeline:
    """Databases, topics and a loaded registry; the services are started by ``start_all``."""
    ports = {f"{name}_port": free_port() for name in SERVICES}
    cfg = StackTestConfig(stack_dir=workdir, topic_prefix=prefix, **ports)  # type: ignore[arg-type]
    db_urls = {name: await create_database(f"e2e_{name}") for name in SERVICES}
    messages_file = workdir / "messages.jsonl"
    common = {
        "PAYUNG_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PAYUNG_TOPIC_PREFIX": prefix,
        "PAYUNG_OUTBOX_POLL_INTERVAL_S": "0.5",
        "PAYUNG_SHUTDOWN_GRACE_S": "5",
        # The same local keys ./payung up makes, in this pipeline's own directory.
        "PAYUNG_API_KEYS_FILE": str(apikeys.hashes_file(workdir)),
        # thousands of requests with one key (the edge's per-key limit is tested in tests/unit/test_http_edge.py)
        "PAYUNG_HTTP_RATE_LIMIT": "1000000/minute",
    }
    api_keys = apikeys.ensure_local_keys(workdir)
    env = {
        name: {**common, "PAYUNG_DATABASE_URL": db_urls[name], "PAYUNG_HTTP_PORT": str(ports[f"{name}_port"])}
        for name in SERVICES
    }
    env["nomination"]["PAYUNG_PERSON_KEY_SECRET"] = SECRET
    env["enrolment"]["PAYUNG_FUNDING_SOURCES"] = json.dumps(funding_sources)
    env["notification"]["PAYUNG_LOCAL_OUTBOX_FILE"] = str(messages_file)
    # one synthetic official per desa is told every rejection: the per-recipient limit has its own integration test
    env["notification"]["PAYUNG_RECIPIENT_DAILY_LIMIT"] = "0"
    # Deliveries a killed dispatcher had claimed are reclaimed when their lease ends (300 s by default, sized for
    # real providers). The crash tests kill it mid-round, so: small rounds, short timeouts, a lease of seconds
    # (the settings refuse a lease shorter than a round can take).
    env["notification"] |= {
        "PAYUNG_DISPATCH_BATCH_SIZE": "50",
        "PAYUNG_DISPATCH_CONCURRENCY": "10",
        "PAYUNG_SMS_TIMEOUT_S": "1",
        "PAYUNG_SMTP_TIMEOUT_S": "1",
        "PAYUNG_WHATSAPP_TIMEOUT_S": "1",
        "PAYUNG_SENDING_LEASE_S": "10",
    }
    # The instance's event keys (deploy/native/stack.py makes them in the pipeline's directory), for the service
    # commands run outside deploy/native/stack.py too (the registry load publishes events).
    for name in SERVICES:
        env[name] |= {k: v for k, v in stack.service_env(cfg, name).items() if k.startswith("PAYUNG_EVENT_")}
    await ensure_topics(kafka_bootstrap, prefix)
    pipeline = Pipeline(cfg, kafka_bootstrap, db_urls, env, messages_file, api_keys)
    _run_service_command(pipeline, "verification", "migrate")
    _run_service_command(pipeline, "verification", "load-registry", str(registry_csv))
    return pipeline


def start_all(pipeline: Pipeline) -> None:
    for name in SERVICES:
        pipeline.start(name)


def _run_service_command(pipeline: Pipeline, service: str, *args: str) -> None:
    import os

    result = subprocess.run(
        [sys.executable, "-m", f"services.{service}", *args],
        env={**os.environ, **pipeline.env[service]},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{service} {args} failed:\n{result.stdout}\n{result.stderr}"
