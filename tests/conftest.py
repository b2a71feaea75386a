"""Shared fixtures. Infrastructure first: see tests/infra.py for where Kafka and PostgreSQL come from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.infra import Infra, drop_databases, provide_infra, unique_prefix
from tests.infra import create_database as _create_database
from tests.signed import install as _install_event_keys

# ---------------------------------------------------------------------------------------------- infrastructure


@pytest.fixture(scope="session", autouse=True)
def event_keys() -> None:
    """Every producer's test signing key, trusted: in-process services sign and check like deployed ones."""
    _install_event_keys()


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Kafka and PostgreSQL for the whole session (env vars from ``./payung test``, else testcontainers)."""
    with provide_infra() as value:
        yield value


@pytest.fixture(scope="session")
async def create_database(infra: Infra) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Factory: ``dsn = await create_database("nomination")`` makes a fresh, uniquely named database.

    Every database made this way is dropped at the end of the session.
    """
    created: list[str] = []

    async def factory(prefix: str = "t") -> str:
        name, dsn = await _create_database(infra.admin_dsn, prefix)
        created.append(name)
        return dsn

    yield factory
    await drop_databases(infra.admin_dsn, created)


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix of this test's own (``shared.topics.ensure_topics(bootstrap, prefix)`` creates them)."""
    return unique_prefix()
