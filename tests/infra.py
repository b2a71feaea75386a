"""Where the tests find Kafka and PostgreSQL, in this order:

1. environment variables ``PAYUNG_TEST_KAFKA_BOOTSTRAP`` and ``PAYUNG_TEST_DATABASE_URL`` (``./payung test``
   starts a native instance and sets them; CI does the same);
2. testcontainers, when a Docker engine answers (a laptop with Docker running plain ``pytest``);
3. otherwise the session fails (not skips: a green run without the integration tests would be a lie) and says
   to run ``./payung test``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_KAFKA = "PAYUNG_TEST_KAFKA_BOOTSTRAP"
ENV_DSN = "PAYUNG_TEST_DATABASE_URL"
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
POSTGRES_IMAGE = "postgres:18"


@dataclass(frozen=True)
class Infra:
    """Kafka's bootstrap address and a DSN (database ``postgres``) for a role that may CREATE DATABASE."""

    kafka_bootstrap: str
    admin_dsn: str
    source: str  # "env" or "testcontainers": shown in failure messages


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def unique_prefix(label: str = "t") -> str:
    """A fresh topic prefix such as ``t3f9a2c1b.``: tests sharing one broker never see each other's events."""
    return f"{label}{uuid.uuid4().hex[:8]}."


def unique_name(prefix: str) -> str:
    """A valid, unique PostgreSQL identifier starting with ``prefix`` (lowercased, sanitised, at most 63 bytes)."""
    clean = re.sub(r"[^a-z0-9_]", "_", prefix.lower()).strip("_") or "t"
    return f"{clean[:50]}_{uuid.uuid4().hex[:10]}"


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no client library, no socket, engine down: all mean "no Docker"
        return False


@contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer

    with ExitStack() as stack:
        kafka = stack.enter_context(KafkaContainer(KAFKA_IMAGE).with_kraft())
        pg = stack.enter_context(PostgresContainer(POSTGRES_IMAGE, driver=None))
        # The container's user is a superuser: it may create databases.
        yield Infra(kafka.get_bootstrap_server(), with_database(pg.get_connection_url(), "postgres"), "testcontainers")


@contextmanager
def provide_infra() -> Iterator[Infra]:
    """Yield the test infrastructure for the session (see the module docstring for the order)."""
    bootstrap, dsn = os.environ.get(ENV_KAFKA), os.environ.get(ENV_DSN)
    if bootstrap and dsn:
        yield Infra(bootstrap, dsn, "env")
        return
    if _docker_answers():
        with _containers() as infra:
            yield infra
        return
    pytest.fail(
        f"No Kafka/PostgreSQL for the tests: {ENV_KAFKA} and {ENV_DSN} are not set and no Docker engine answers. "
        "Run the suite with `./payung test [pytest args]`: it starts a native test instance and sets them.",
        pytrace=False,
    )


async def create_database(admin_dsn: str, prefix: str) -> tuple[str, str]:
    """Create a uniquely named database; returns ``(name, dsn)``."""
    import asyncpg

    name = unique_name(prefix)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')  # name is sanitised by unique_name
    finally:
        await conn.close()
    return name, with_database(admin_dsn, name)


async def drop_databases(admin_dsn: str, names: list[str]) -> None:
    """Drop the databases, disconnecting whoever still uses them (a service process left running)."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        for name in names:
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except asyncpg.InsufficientPrivilegeError as exc:
                # A session of another role still uses it (e.g. the stack's superuser during a restart test): the
                # test instance is wiped on the next run anyway, so cleanup is best effort and says so.
                print(f"left database {name} in place: {exc}")
    finally:
        await conn.close()
