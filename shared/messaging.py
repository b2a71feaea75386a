"""How a handler runs: one transaction, the events it returns written to the outbox in it, then commit.

Every use case of every service is a handler of one of two shapes, its dependencies passed first (the service's
frozen ``Deps``, built once by its bootstrap):

- a **command handler** ``async def submit(deps, conn, command) -> Handled[Answer]``: ``run`` opens the
  transaction, calls it, writes ``Handled.events`` to the outbox and commits; the caller (a route, a job, the CLI)
  gets the answer. A command is a frozen model; a route builds it from the request and calls ``run``, nothing else.
- an **event handler** ``async def record(deps, conn, events) -> Sequence[Envelope]``: ``shared.consumer`` opens the
  transaction (with the inbox rows of the batch), calls it, writes the events it returns, and commits.

No handler writes the outbox itself, and nothing publishes to Kafka directly (the relay does, shared/outbox.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from shared import outbox
from shared.contracts import Envelope
from shared.db import Conn

T = TypeVar("T")
C = TypeVar("C")
T_co = TypeVar("T_co", covariant=True)


class Wired(Protocol):
    """What ``run`` needs of a service's ``Deps``."""

    @property
    def pool(self) -> asyncpg.Pool: ...

    @property
    def topic_prefix(self) -> str: ...


D = TypeVar("D", bound=Wired)


@dataclass(frozen=True)
class Handled(Generic[T_co]):
    """What a command handler gives back: the caller's answer and the events to publish (written to the outbox in
    the handler's transaction)."""

    answer: T_co
    events: Sequence[Envelope[Any]] = ()


CommandHandler = Callable[[D, Conn, C], Awaitable[Handled[T]]]
EventHandler = Callable[[D, Conn, Sequence[Envelope[Any]]], Awaitable[Sequence[Envelope[Any]]]]
# Work an event handler needs done before its transaction opens (a registry call over HTTP must not hold a
# database transaction and its row locks while it waits): called with the batch's decoded events.
Prepare = Callable[[D, Sequence[Envelope[Any]]], Awaitable[None]]


async def run(
    deps: D,
    handler: Callable[[D, Conn, C], Awaitable[Handled[T]]],
    command: C,
    *,
    retry_on: tuple[type[Exception], ...] = (),
    attempts: int = 2,
) -> T:
    """Run ``handler`` on ``command`` in one transaction and return its answer.

    ``retry_on``: exceptions after which the whole transaction is run again (a unique index a concurrent twin won:
    the second pass finds the twin's row), at most ``attempts`` times in all.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with deps.pool.acquire() as conn, conn.transaction():
                handled = await handler(deps, conn, command)
                if handled.events:
                    await outbox.add_events(conn, handled.events, deps.topic_prefix)
            return handled.answer
        except retry_on:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # the loop returns or raises
