"""The nomination service's dependencies, built once per process: ``Deps`` is what every handler gets first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial

import asyncpg
from fastapi import Request

from services.nomination.adapters.letters import LetterStore, PostgresLetterStore
from services.nomination.commands import PurgeLetters, PurgeUploads
from services.nomination.handlers import letters, uploads
from services.nomination.settings import NominationSettings
from shared import db, messaging, service
from shared.jobs import Job
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class Deps:
    pool: asyncpg.Pool
    topic_prefix: str
    settings: NominationSettings
    letters: LetterStore = field(default_factory=PostgresLetterStore)
    # set after an upload: the uploads job sends its rows at once instead of at its next round
    uploads_waiting: asyncio.Event = field(default_factory=asyncio.Event)
    # a desa's batch of cards renders in a worker thread, one at a time (api/cards.py)
    card_renders: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))


def make(pool: asyncpg.Pool, settings: NominationSettings) -> Deps:
    return Deps(pool=pool, topic_prefix=settings.topic_prefix, settings=settings)


@contextlib.asynccontextmanager
async def bootstrap(rt: service.Runtime[NominationSettings]) -> AsyncIterator[Deps]:
    yield make(rt.pool, rt.settings)  # nothing to open: the letters live in the service's own database


def jobs(deps: Deps, interval_s: float = 2.0) -> list[Job]:
    """The portal's spreadsheet uploads: pending rows (also those of a job a restart interrupted) are sent here."""
    return [Job("uploads", partial(uploads.step, deps), interval_s=interval_s, wake=deps.uploads_waiting)]


async def deps(request: Request) -> Deps:
    """FastAPI dependency: the running service's ``Deps``."""
    return service.deps_of(request, Deps)


def purge_command(settings: ServiceSettings, args: list[str]) -> int:
    """``python -m services.nomination purge``: the daily retention of personal data kept beside the nominations
    (the letters of decided nominations, the sheets of finished uploads), each audited as one system row."""
    if args or not isinstance(settings, NominationSettings):
        print("usage: python -m services.nomination purge")
        return 2
    letters_purged, uploads_purged = asyncio.run(_purge(settings))
    print(f"letters purged: {letters_purged}")
    print(f"uploads purged: {uploads_purged}")
    return 0


async def _purge(settings: NominationSettings) -> tuple[int, int]:
    pool = await db.create_pool(settings.database_url, 1, 1)
    try:
        deps = make(pool, settings)
        purged = await messaging.run(deps, letters.purge, PurgeLetters(retention_days=settings.letter_retention_days))
        upload_days = PurgeUploads(retention_days=settings.upload_retention_days)
        return purged, await messaging.run(deps, uploads.purge, upload_days)
    finally:
        await pool.close()
