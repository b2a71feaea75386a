"""The yearly re-check of every verified member (``python -m services.verification recheck``) on real PostgreSQL
with the snapshot adapter: deaths, moves and new wage earners the refreshes did not report become life events,
once; members the registry cannot answer are left alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.verification.adapters.registry import RegistryAnswer
from services.verification.handlers import loads
from services.verification.handlers.recheck import recheck
from shared.contracts import RegistryPersonUpdated
from tests.integration.test_verification_handler import (
    CLEAN,
    LATER,
    OTHER_NAME,
    TWICE,
    dsn,  # noqa: F401  (fixture)
    emitted,
    load_registry,
    make_consumer,
    make_deps,
    pool,  # noqa: F401  (fixture)
    records,
    submitted,
)

pytestmark = pytest.mark.integration
ON = date(2026, 12, 20)


async def life_events(pool) -> list[RegistryPersonUpdated]:  # noqa: F811
    return [e.payload for _t, _k, e in await emitted(pool) if isinstance(e.payload, RegistryPersonUpdated)]


async def test_the_recheck_announces_what_changed_since_verification_once(dsn, pool, tmp_path: Path):  # noqa: F811
    await load_registry(dsn, tmp_path)
    people = {p: submitted(p) for p in (CLEAN, LATER, TWICE, OTHER_NAME)}
    await make_consumer(pool).process(records(list(people.values())))
    verified = await pool.fetchval("SELECT count(*) FROM verifications WHERE outcome = 'verified'")
    assert verified == 4
    # The registry changed without a refresh announcing it (e.g. answers cached from the web service, a refresh
    # that was never run): CLEAN died, TWICE moved to Samarinda; LATER is now on the wage-earner roster.
    await pool.execute("UPDATE registry_people SET status = 'MATI' WHERE nik = $1", CLEAN.nik)
    await pool.execute("UPDATE registry_people SET kel_code = '64.72.01.1001' WHERE nik = $1", TWICE.nik)
    roster = tmp_path / "roster.csv"
    roster.write_text(f"NIK\n{LATER.nik}\n")
    await loads.load_roster(dsn, roster, "bpjs-roster")

    result = await recheck(make_deps(pool), today=ON, page=2)
    assert result.checked == 4 and result.unavailable == result.not_found == 0
    assert dict(result.announced) == {"deceased": 1, "moved_out": 1, "became_wage_earner": 1}
    events = {e.nomination_id: e for e in await life_events(pool)}
    assert {n: (events[people[p].payload.nomination_id].change) for n, p in
            [("clean", CLEAN), ("twice", TWICE), ("later", LATER)]} == {
        "clean": "deceased", "twice": "moved_out", "later": "became_wage_earner"}  # fmt: skip
    assert events[people[TWICE].payload.nomination_id].new_regency == "64.72"
    assert all(e.effective_date == ON for e in events.values())
    assert people[OTHER_NAME].payload.nomination_id not in events

    again = await recheck(make_deps(pool), today=ON)
    assert sum(again.announced.values()) == 0 and len(await life_events(pool)) == 3


class Silent:
    """A registry that cannot answer anyone now (the web service is down)."""

    async def prefetch(self, niks):
        pass

    async def answer(self, conn, niks):
        return RegistryAnswer({}, None, frozenset(niks))


async def test_members_the_registry_cannot_answer_are_counted_and_left_alone(dsn, pool, tmp_path: Path):  # noqa: F811
    await load_registry(dsn, tmp_path)
    await make_consumer(pool).process(records([submitted(CLEAN)]))
    result = await recheck(make_deps(pool, Silent()), today=ON)
    assert (result.checked, result.unavailable, sum(result.announced.values())) == (1, 1, 0)
    assert await life_events(pool) == []
