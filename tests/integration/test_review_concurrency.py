"""Two reviewers deciding the same case at once (real PostgreSQL): one decision wins, the other is told (409),
whether it raced the first or came later from a page showing an older version of the case."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from services.verification import errors
from services.verification.commands import DecideReview, Verdict
from services.verification.handlers import reviews
from shared import messaging
from shared.auth import Principal, Role
from tests.integration.test_verification_handler import (
    dsn,  # noqa: F401  (fixture)
    load_registry,
    make_consumer,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    submitted,
)
from tests.integration.test_verification_reviews import AHMAD, AHMAD_AGAIN, PEOPLE, SITI, SITI_AGAIN

pytestmark = pytest.mark.integration


async def open_cases(dsn: str, pool: asyncpg.Pool, tmp_path: Any) -> list[int]:  # noqa: F811
    await load_registry(dsn, tmp_path, PEOPLE)
    batch = [submitted(SITI), submitted(SITI_AGAIN), submitted(AHMAD), submitted(AHMAD_AGAIN, name="Achmad Fauzi")]
    await make_consumer(pool).process(records(batch))
    return [r["id"] for r in await pool.fetch("SELECT id FROM reviews WHERE status = 'open' ORDER BY id")]


async def decide(pool: asyncpg.Pool, case: int, verdict: Verdict, who: str, version: int | None) -> Any:  # noqa: F811
    try:
        reason = "DUPLICATE_PERSON" if verdict == "reject" else None
        cmd = DecideReview(
            caller=Principal(who, Role.VERIFIER),
            review_id=case,
            verdict=verdict,
            reason_code=reason,
            note="catatan",
            expected_version=version,
        )
        return await messaging.run(make_deps(pool), reviews.decide, cmd)
    except errors.ReviewError as exc:
        return exc


async def test_a_decision_on_an_older_version_is_refused(dsn: str, pool: asyncpg.Pool, tmp_path: Any) -> None:  # noqa: F811
    first, _ = await open_cases(dsn, pool, tmp_path)
    assert await pool.fetchval("SELECT version FROM reviews WHERE id = $1", first) == 0
    won = await decide(pool, first, "reject", "verifikator-1", 0)
    assert isinstance(won, reviews.ReviewDecided)
    assert await pool.fetchval("SELECT version FROM reviews WHERE id = $1", first) == 1
    late = await decide(pool, first, "approve", "verifikator-2", 0)  # the page showed version 0
    assert isinstance(late, errors.ReviewChanged) and late.status_code == 409
    assert await pool.fetchval("SELECT count(*) FROM review_decisions WHERE review_id = $1", first) == 1


async def test_two_decisions_at_once_one_wins(dsn: str, pool: asyncpg.Pool, tmp_path: Any) -> None:  # noqa: F811
    _, second = await open_cases(dsn, pool, tmp_path)
    results = await asyncio.gather(
        decide(pool, second, "approve", "verifikator-1", 0), decide(pool, second, "reject", "verifikator-2", 0)
    )
    assert sorted(type(r).__name__ for r in results) == ["ReviewChanged", "ReviewDecided"]
    rows = await pool.fetch("SELECT reviewer FROM review_decisions WHERE review_id = $1", second)
    assert len(rows) == 1
