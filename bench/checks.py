"""The invariants a run must end with, checked from the databases and the topics (fault suite, CI fault test).

Every accepted nomination has exactly one final outcome; nobody is seated or waitlisted twice; nobody is told the
same thing twice; no event is lost (every stage's events are on their topics, outboxes are drained, dead-letter
topics are empty); quotas are exactly respected.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.contracts import decode
from shared.errors import PoisonMessage
from shared.topics import all_topics

FINAL_OUTCOMES = ("rejected", "waitlisted", "enrolled")


async def topic_event_ids(bootstrap: str, topics: Iterable[str]) -> dict[str, list[uuid.UUID | None]]:
    """Every record's event id (None if undecodable), per topic, read from the beginning without a group."""
    wanted = set(topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in wanted for p in (consumer.partitions_for_topic(t) or set())]
        if len(partitions) < len(wanted):
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(t, p) for t in wanted for p in (consumer.partitions_for_topic(t) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        out: dict[str, list[uuid.UUID | None]] = {t: [] for t in wanted}
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).items():
                for r in records:
                    try:
                        out[tp.topic].append(decode(r.value).event_id)
                    except PoisonMessage:
                        out[tp.topic].append(None)
        return out
    finally:
        await consumer.stop()


async def _one(dsn: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def check(
    db: dict[str, str], bootstrap: str, prefix: str, accepted: set[uuid.UUID], bpjs: dict[str, int] | None = None
) -> dict[str, Any]:
    """The figures; ``violations`` lists every broken invariant (empty: all hold). ``bpjs``: the BPJS simulator's
    own counts (``/_simulator/stats``) when enrolment registered over HTTP, to check nobody was registered twice."""
    f: dict[str, Any] = {"accepted": len(accepted)}
    nom, ver, enr, ntf = db["nomination"], db["verification"], db["enrolment"], db["notification"]
    f["nominations_stored"] = await _one(nom, "SELECT count(*) FROM nominations")
    # A possible duplicate waits for a verifier: no outcome yet, by design (counted apart, not as lost).
    f["without_final_outcome"] = await _one(
        nom, "SELECT count(*) FROM nominations WHERE outcome IS NULL AND status <> 'in_review'"
    )
    f["in_review"] = await _one(nom, "SELECT count(*) FROM nominations WHERE status = 'in_review'")
    stored = {r for r in await _ids(nom, "SELECT id FROM nominations")}
    f["accepted_but_missing"] = len(accepted - stored)
    f["stored_but_never_accepted"] = len(stored - accepted)
    f["verifications"] = await _one(ver, "SELECT count(*) FROM verifications")
    f["verification_twice"] = await _one(ver, "SELECT count(*) - count(DISTINCT nomination_id) FROM verifications")
    verified = await _one(ver, "SELECT count(*) FROM verifications WHERE outcome = 'verified'")
    f["verified"] = verified
    reviewing = await _one(ver, "SELECT count(*) FROM verifications WHERE outcome = 'in_review'")
    f["seats"] = await _one(enr, "SELECT count(*) FROM seats")
    f["waitlisted"] = await _one(enr, "SELECT count(*) FROM waitlist")
    f["duplicate_seats"] = await _one(enr, "SELECT count(*) - count(DISTINCT nik) FROM seats")
    f["duplicate_waitlist"] = await _one(enr, "SELECT count(*) - count(DISTINCT nik) FROM waitlist")
    f["seated_and_waiting"] = await _one(
        enr, "SELECT count(*) FROM waitlist w JOIN seats s USING (nomination_id) WHERE w.promoted_at IS NULL"
    )
    f["seats_pending_bpjs"] = await _one(enr, "SELECT count(*) FROM seats WHERE status = 'pending_bpjs'")
    if bpjs is not None:
        f["bpjs"] = bpjs
    quota = await _one(enr, "SELECT sum(quota) FROM funding_sources")
    f["quota_total"] = quota
    f["used_total"] = await _one(enr, "SELECT sum(used) FROM funding_sources")
    f["sources_where_used_differs_from_seats"] = await _one(
        enr,
        """
        SELECT count(*) FROM funding_sources f
        WHERE f.used <> (SELECT count(*) FROM seats s WHERE s.funding_source = f.code
                         AND s.programme_year = f.programme_year) OR f.used > f.quota
        """,
    )
    f["duplicate_notifications"] = await _one(
        ntf,
        """
        SELECT count(*) FROM (SELECT nomination_id, purpose, recipient_role FROM deliveries
                              GROUP BY 1, 2, 3 HAVING count(*) > 1) AS twice
        """,
    )
    f["outbox_backlog"] = {name: await _one(dsn, "SELECT count(*) FROM outbox") for name, dsn in db.items()}

    names = [
        "nomination.submitted",
        "identity.verified",
        "identity.rejected",
        "identity.review_requested",
        "enrolment.confirmed",
        "enrolment.waitlisted",
        "notification.sent",
        "notification.failed",
    ]
    topics = [prefix + n for n in names]
    dlqs = [s.name for s in all_topics(prefix) if s.name.endswith(".dlq")]
    ids = await topic_event_ids(bootstrap, topics + dlqs)
    distinct = {n: len({i for i in ids[prefix + n] if i}) for n in names}
    f["events_distinct"] = distinct
    f["events_published_more_than_once"] = sum(len(ids[t]) - len(set(ids[t])) for t in topics)
    f["dead_letters"] = {t.removeprefix(prefix): len(ids[t]) for t in dlqs if ids[t]}

    v: list[str] = []
    if f["without_final_outcome"]:
        v.append("nominations without a final outcome")
    if f["accepted_but_missing"] or f["stored_but_never_accepted"]:
        v.append("accepted nominations and stored nominations differ")
    if f["verifications"] != len(accepted) or f["verification_twice"]:
        v.append("not exactly one verification per nomination")
    if f["duplicate_seats"] or f["duplicate_waitlist"] or f["seated_and_waiting"]:
        v.append("duplicate enrolments")
    if f["seats"] != min(quota, verified) or f["seats"] + f["waitlisted"] != verified:
        v.append("seats/waitlist do not add up to the verified nominations within the quota")
    if f["used_total"] != f["seats"] or f["sources_where_used_differs_from_seats"]:
        v.append("quota counters differ from seats")
    if f["duplicate_notifications"]:
        v.append("duplicate notifications")
    if any(f["outbox_backlog"].values()):
        v.append("outbox not drained")
    if distinct["nomination.submitted"] != len(accepted):
        v.append("lost NominationSubmitted events")
    if (
        distinct["identity.verified"] != verified
        or distinct["identity.verified"] + distinct["identity.rejected"] + reviewing != f["verifications"]
        or distinct["identity.review_requested"] < reviewing
    ):
        v.append("lost identity events")
    if distinct["enrolment.confirmed"] < f["seats"] or distinct["enrolment.waitlisted"] < f["waitlisted"]:
        v.append("lost enrolment events")
    if f["dead_letters"]:
        v.append("dead letters")
    if f["seats_pending_bpjs"]:
        v.append("seats never registered at BPJS")
    if bpjs is not None and not (bpjs["references"] == bpjs["distinct_niks"] == f["seats"]):
        v.append("BPJS registrations differ from seats (someone registered twice, or a seat never registered)")
    f["violations"] = v
    return f


async def _ids(dsn: str, query: str) -> list[uuid.UUID]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r[0] for r in await conn.fetch(query)]
    finally:
        await conn.close()
