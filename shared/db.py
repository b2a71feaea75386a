"""PostgreSQL: the connection pool and schema migrations.

Migrations are plain SQL files in each service's ``migrations/`` folder, applied by yoyo-migrations (which records
what ran, takes a lock so two replicas never migrate at once, and supports rollback files ``*.rollback.sql``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
"""A connection a repository works on: one of its own (``connect``) or one lent by the pool (``pool.acquire()``).

The pool lends a proxy, not an ``asyncpg.Connection`` (they share the query methods but not a base class), so every
function that takes a connection is annotated with this alias rather than with either class.
"""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


SHARED_MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(dsn: str, migrations_dir: Path) -> int:
    """Apply the shared (outbox, inbox) and then the service's pending migrations. Returns how many ran."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(_yoyo_url(dsn))
    try:
        migrations = read_migrations(str(SHARED_MIGRATIONS), str(migrations_dir))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return len(pending)
    finally:
        backend.connection.close()  # yoyo leaves its connection open (a ResourceWarning when collected)


def _yoyo_url(dsn: str) -> str:
    scheme, rest = dsn.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"
