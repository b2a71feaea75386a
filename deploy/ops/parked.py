"""``payung outbox parked``: the outbox rows a relay set aside because the broker refused them for good.

A relay (shared/outbox.py) parks a row only after sending it again on its own: a record too large for its topic,
a topic that does not exist, a topic the service may not write, an invalid record. The rest of the outbox went on.
``list`` and ``show`` print where each row was going, its error and sizes, never the key or value (an event may hold
a NIK or a name). Fix the cause (create the topic, grant the ACL, raise the limit in shared/topics.py), then
``replay`` moves rows back into the outbox, where the relay publishes them like any other; ``drop`` deletes rows for
good (an event nobody must receive). Both take row ids or ``--all``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import asyncpg
import typer

from deploy.native import stack
from deploy.native.config import SERVICES, StackConfig
from shared import outbox
from shared.db import Conn
from shared.errors import safe_text

T = TypeVar("T")

app = typer.Typer(help="Outbox rows the broker refused for good: list, inspect, replay, drop.", no_args_is_help=True)
outbox_app = typer.Typer(help="A service's transactional outbox.", no_args_is_help=True)
outbox_app.add_typer(app, name="parked")

Service = Annotated[str, typer.Argument(help=f"One of {', '.join(SERVICES)}.")]
DatabaseUrl = Annotated[
    str | None, typer.Option(help="The service's database (default: the local stack's database of SERVICE).")
]
Ids = Annotated[list[int] | None, typer.Argument(help="Parked row ids (see list).")]
All = Annotated[bool, typer.Option("--all", help="Every parked row of SERVICE.")]


def _dsn(service: str, database_url: str | None) -> str:
    if database_url:
        return database_url
    if service not in SERVICES:
        raise typer.BadParameter(f"one of: {', '.join(SERVICES)}", param_hint="SERVICE")
    return stack.database_url(StackConfig(), service)


def _run(dsn: str, work: Callable[[Conn], Awaitable[T]]) -> T:
    async def go() -> T:
        conn = await asyncpg.connect(dsn)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def describe(row: asyncpg.Record) -> list[str]:
    """A parked row as text: where it was going, why it was refused, sizes; never the key's or value's content."""
    names = [k for k, _ in outbox.unpack_headers(row["headers"])]
    return [
        f"{row['id']}  {row['topic']}  {row['event_type']}  parked_at={row['parked_at'].isoformat()}",
        f"    event_id={row['event_id']}  value={len(row['value'])} bytes  key={len(row['key'] or b'')} bytes  "
        f"created_at={row['created_at'].isoformat()}  headers={','.join(safe_text(n, 64) for n in names) or '-'}",
        f"    error: {safe_text(row['error'])}",
    ]


@app.command("list")
def list_cmd(
    service: Service,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, oldest first.")] = 20,
    database_url: DatabaseUrl = None,
) -> None:
    """Print SERVICE's parked outbox rows: topic, error, sizes (never their content)."""

    async def work(conn: Conn) -> tuple[int, list[asyncpg.Record]]:
        return await outbox.parked_count(conn), await outbox.list_parked(conn, limit)

    total, rows = _run(_dsn(service, database_url), work)
    typer.echo(f"{service}: {total} parked outbox rows (showing {len(rows)})")
    for row in rows:
        typer.echo("\n".join(describe(row)))


@app.command("show")
def show_cmd(
    service: Service,
    parked_id: Annotated[int, typer.Argument(help="The parked row's id.")],
    database_url: DatabaseUrl = None,
) -> None:
    """Inspect one parked row (its error in full, header names, sizes)."""

    async def work(conn: Conn) -> asyncpg.Record | None:
        return await outbox.get_parked(conn, parked_id)

    row = _run(_dsn(service, database_url), work)
    if row is None:
        typer.secho(f"no parked row {parked_id}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo("\n".join(describe(row)))


async def _selected(conn: Conn, ids: list[int] | None, every: bool) -> list[int]:
    if every:
        return [r["id"] for r in await conn.fetch("SELECT id FROM outbox_parked ORDER BY id")]
    return list(ids or ())


def _need_ids(ids: list[int] | None, every: bool) -> None:
    if not ids and not every:
        raise typer.BadParameter("give parked row ids, or --all", param_hint="IDS")


@app.command("replay")
def replay_cmd(service: Service, ids: Ids = None, every: All = False, database_url: DatabaseUrl = None) -> None:
    """Move parked rows back into SERVICE's outbox (once the cause is fixed); the relay publishes them."""
    _need_ids(ids, every)

    async def work(conn: Conn) -> tuple[int, int]:
        chosen = await _selected(conn, ids, every)
        return len(chosen), await outbox.replay_parked(conn, chosen)

    chosen, moved = _run(_dsn(service, database_url), work)
    typer.echo(f"replayed: {moved} of {chosen} (back in the outbox; a row refused again is parked again)")


@app.command("drop")
def drop_cmd(
    service: Service,
    ids: Ids = None,
    every: All = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Delete parked rows for good: their events are never published."""
    _need_ids(ids, every)
    if not yes:
        which = "every parked row" if every else f"parked rows {ids}"
        typer.confirm(f"delete {which} of {service} for good?", abort=True)

    async def work(conn: Conn) -> int:
        return await outbox.drop_parked(conn, await _selected(conn, ids, every))

    typer.echo(f"dropped: {_run(_dsn(service, database_url), work)}")
