"""The notification service's ``Deps`` for tests that drive its handlers and jobs without starting the service.

``deps_for`` builds them as the bootstrap does (``make_deps``), then puts in what the test decides: the channel
policy, the dispatch and digest rules, the clock. ``handle`` applies a batch as ``shared.consumer`` does: the events
the handler returns go to the outbox in the same transaction.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.notification.adapters.channel import Channel
from services.notification.adapters.throttle import Throttle
from services.notification.bootstrap import Deps, make_deps
from services.notification.domain.digests import DigestPolicy
from services.notification.domain.dispatch import DispatchPolicy
from services.notification.domain.routes import ChannelPolicy
from services.notification.handlers import events
from services.notification.settings import NotificationSettings
from shared import outbox
from shared.contracts import Envelope
from shared.db import Conn
from shared.regions import RegionIndex, default_regions

PREFIX = "t."


def deps_for(
    pool: asyncpg.Pool,
    settings: NotificationSettings | None = None,
    *,
    channels: Mapping[str, Channel] | None = None,
    policy: ChannelPolicy | None = None,
    dispatch: DispatchPolicy | None = None,
    digest: DigestPolicy | None = None,
    regions: RegionIndex | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    random_fraction: Callable[[], float] = random.random,
    prefix: str = PREFIX,
) -> Deps:
    settings = settings or NotificationSettings(
        database_url="postgresql://unused/db",
        kafka_bootstrap="127.0.0.1:1",
        topic_prefix=prefix,
        # one message per outcome, as these tests count them: the how-to-claim message beside a confirmation
        # (issue 15) has its own tests (test_notification_outreach.py)
        claim_reminders_enabled=False,
    )
    deps = make_deps(pool, settings, channels or {})
    return dataclasses.replace(
        deps,
        topic_prefix=prefix,
        policy=policy or ChannelPolicy(),
        dispatch=dispatch or DispatchPolicy(),
        digest=digest or DigestPolicy(),
        regions=regions or default_regions(),
        now=now,
        random_fraction=random_fraction,
        throttle=Throttle(20, {}),  # no provider rate limit unless a test sets one
    )


def bound(deps: Deps) -> Callable[[Conn, Sequence[Envelope[Any]]], Awaitable[Sequence[Envelope[Any]]]]:
    """The ``events`` group's handler bound to ``deps``, as ``shared.service`` hands it to the consumer."""

    async def handler(conn: Conn, batch: Sequence[Envelope[Any]]) -> Sequence[Envelope[Any]]:
        return await events.plan_messages(deps, conn, batch)

    return handler


async def handle(deps: Deps, conn: Conn, batch: Sequence[Envelope[Any]]) -> None:
    """One batch in the caller's transaction, its events written to the outbox (what the consumer does)."""
    await outbox.add_events(conn, await events.plan_messages(deps, conn, batch), deps.topic_prefix)
