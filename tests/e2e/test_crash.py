"""SIGKILL each service in the middle of a stream: nothing is lost, nothing is done twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from tests.e2e.conftest import QUOTA_TOTAL
from tests.e2e.pipeline import FINAL, wait_for

pytestmark = pytest.mark.e2e

STREAM = 360


async def test_sigkill_each_service_mid_stream(pipeline, people, client):
    batch = people.take_mix(STREAM)
    keys = [str(uuid.uuid4()) for _ in batch]
    answers: dict[int, dict] = {}

    async def submit_all() -> None:
        for index, (item, key) in enumerate(zip(batch, keys, strict=True)):
            response = await pipeline.submit_until_answered(client, item.request, key)
            answers[index] = {"status": response.status_code, "body": response.json()}
            await asyncio.sleep(0.01)  # a steady stream, so the kills land in the middle of it

    async def crash_each_service() -> None:
        for service in ("verification", "enrolment", "notification", "nomination"):
            await wait_for(_progress(answers, len(batch)), "the stream to be under way")
            pipeline.kill(service)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pipeline.start, service)

    await asyncio.gather(submit_all(), crash_each_service())

    # Every answer is what the generator intended.
    for index, item in enumerate(batch):
        status = answers[index]["status"]
        expected = {"duplicate": 409, "invalid": 422}.get(item.expected, 202)
        assert status == expected, (item.fault, answers[index])

    accepted_ids = [answers[i]["body"]["nomination_id"] for i, item in enumerate(batch) if answers[i]["status"] == 202]

    async def all_final() -> dict | None:
        views = [await pipeline.nomination(client, nid) for nid in accepted_ids]
        return {v["nomination_id"]: v for v in views} if all(v["status"] in FINAL for v in views) else None

    views = await wait_for(all_final, "every nomination of the stream to reach a final state", timeout=180)

    # Each nomination ends where the generator said it should.
    by_id = {answers[i]["body"]["nomination_id"]: item for i, item in enumerate(batch) if answers[i]["status"] == 202}
    outcomes = Counter()
    for nid, view in views.items():
        item = by_id[nid]
        if item.expected == "accepted":
            assert view["outcome"] in {"enrolled", "waitlisted"}, (item.fault, view)
        else:
            assert view["outcome"] == "rejected", (item.fault, view)
            assert item.expected.removeprefix("rejected:") in [r["code"] for r in view["reasons"]]
        outcomes[view["outcome"]] += 1

    # Everyone hears about it once the crashes are over, or the failure to tell them is on record (a nominator
    # with neither phone nor e-mail cannot be told of a rejection).
    def told(view: dict) -> bool:
        return view["status"] == "notified" or (
            view["outcome"] == "rejected" and any(h["stage"] == "notification_failed" for h in view["history"])
        )

    untold: list[tuple] = []

    async def all_told() -> bool:
        views = [await pipeline.nomination(client, nid) for nid in accepted_ids]
        untold[:] = [
            (v["nomination_id"], v["status"], [h["stage"] for h in v["history"]]) for v in views if not told(v)
        ]
        return not untold

    try:
        await wait_for(all_told, "every nomination to be notified", timeout=120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; not told: {untold[:5]} ({len(untold)} in all)") from None

    # Nothing twice: one seat per person, one beneficiary message per seat or waitlist place, quotas exact.
    assert await pipeline.fetchval("enrolment", "SELECT count(*) - count(DISTINCT nik) FROM seats") == 0
    assert await pipeline.fetchval("enrolment", "SELECT count(*) - count(DISTINCT nik) FROM waitlist") == 0
    seats = await pipeline.fetchval("enrolment", "SELECT count(*) FROM seats")
    used = await pipeline.fetchval("enrolment", "SELECT sum(used) FROM funding_sources")
    verified = await pipeline.fetchval("verification", "SELECT count(*) FROM verifications WHERE outcome = 'verified'")
    waiting = await pipeline.fetchval("enrolment", "SELECT count(*) FROM waitlist")
    assert seats == used == min(QUOTA_TOTAL, verified)
    assert seats + waiting == verified
    duplicate_messages = await pipeline.fetchval(
        "notification",
        """
        SELECT count(*) FROM (
            SELECT nomination_id, purpose, recipient_role FROM deliveries
            GROUP BY 1, 2, 3 HAVING count(*) > 1
        ) AS twice
        """,
    )
    assert duplicate_messages == 0
    for nid in accepted_ids:
        assert (
            await pipeline.fetchval(
                "notification",
                "SELECT count(*) FROM deliveries WHERE nomination_id = $1 AND purpose <> 'claim_reminder'",
                uuid.UUID(nid),
            )
            == 1
        )
    assert outcomes["rejected"] > 0 and outcomes["enrolled"] + outcomes["waitlisted"] > 0


def _progress(answers: dict, total: int):
    """A condition: another sixth of the stream has been answered since the last kill."""
    state = {"mark": 0}

    async def check() -> bool:
        if len(answers) >= state["mark"] + total // 6:
            state["mark"] = len(answers)
            return True
        return False

    return check
