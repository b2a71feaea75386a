"""Shared fixtures. Infrastructure first: see tests/infra.py for where Kafka and PostgreSQL come from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.infra import Infra, drop_databases, provide_infra, unique_prefix
from tests.infra import create_database as _create_database
from tests.signed import install as _install_event_keys

# ---------------------------------------------------------------------------------------------- long checks


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        help="also run the long checks (tests marked long; `bash .ci/long` runs them with the container check)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``long`` are skipped, visibly, unless ``--long`` is given: CI runs the short suite."""
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="a long check: ./payung test --long (or bash .ci/long)")
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(skip)


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
