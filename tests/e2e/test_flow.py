"""The whole pipeline on the real Kafka and PostgreSQL: a nomination's walk, duplicates, dead letters."""

from __future__ import annotations

import copy
import uuid

import orjson
import pytest

from shared import topics, topology
from tests.e2e.pipeline import wait_for

pytestmark = pytest.mark.e2e

# Every (topic, consumer group) pair of the system, from the documented consumer map.
CONSUMED = [(topic, group) for _service, topic, group in topology.consumer_groups()]
INPUT_TOPICS = sorted({topic for topic, _ in CONSUMED})


async def test_a_nomination_walks_to_notified(pipeline, people, client):
    (person,) = people.take("accepted")
    response = await pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    nomination_id = response.json()["nomination_id"]
    assert response.headers["location"] == f"/v1/nominations/{nomination_id}"

    view = await pipeline.wait_status(client, nomination_id, {"notified"})
    assert view["outcome"] in {"enrolled", "waitlisted"}
    stages = [h["stage"] for h in view["history"]]
    assert stages[0] == "verified" and "notified" in stages
    assert person.request["nik"] not in str(view) and person.request["full_name"] not in str(view)

    # The beneficiary's message went out once, in Bahasa Indonesia, on the local channel; a new member is also told
    # how to claim, in a second message planned with the first (issue 15's claim reminder at cover start).
    everything = (
        await client.get(pipeline.url("notification", "/v1/deliveries"), params={"nomination_id": nomination_id})
    ).json()["deliveries"]
    deliveries = [d for d in everything if d["purpose"] != "claim_reminder"]
    reminders = [d for d in everything if d["purpose"] == "claim_reminder"]
    assert [(d["status"], d["channel"]) for d in deliveries] == [("sent", "local")]
    assert len(reminders) == (1 if view["outcome"] == "enrolled" else 0), everything
    lines = [orjson.loads(line) for line in pipeline.messages_file.read_bytes().splitlines()]
    mine = [m for m in lines if m["delivery_id"] == deliveries[0]["id"]]
    assert len(mine) == 1, mine
    assert "BPJS Ketenagakerjaan" in mine[0]["text"]
    assert ("peserta" if view["outcome"] == "enrolled" else "daftar tunggu") in mine[0]["text"]


async def test_a_rejected_nomination_carries_its_reason(pipeline, people, client):
    (person,) = people.take("rejected:DECEASED")
    response = await pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    view = await pipeline.wait_status(client, response.json()["nomination_id"], {"rejected", "notified"})
    assert view["outcome"] == "rejected"
    assert [r["code"] for r in view["reasons"]] == ["DECEASED"]


async def test_invalid_requests_get_a_reason_per_field(pipeline, people, client):
    (person,) = people.take("accepted")
    bad = copy.deepcopy(person.request)
    bad["nik"] = "64080145019000"
    bad["phone"] = "0541-123"
    bad["address"]["desa_code"] = "64.08.01.9999"
    response = await pipeline.submit(client, bad)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"nik", "phone", "address"} <= fields, response.json()
    assert person.request["nik"][:14] not in response.text  # values are not echoed back


async def test_the_same_person_twice_gives_one_enrolment_and_one_notification(pipeline, people, client):
    (person,) = people.take("accepted")
    key = str(uuid.uuid4())
    first = await pipeline.submit(client, person.request, key)
    replay = await pipeline.submit(client, person.request, key)
    assert first.status_code == replay.status_code == 202
    assert replay.json()["nomination_id"] == first.json()["nomination_id"]
    assert replay.headers.get("idempotent-replayed") == "true"

    other_village = copy.deepcopy(person.request)
    other_village["nominator"]["name"] = "Kepala Desa Lain"
    second = await pipeline.submit(client, other_village)
    assert second.status_code == 409
    assert second.json()["nomination_id"] == first.json()["nomination_id"]

    reused = copy.deepcopy(person.request)
    reused["full_name"] = "Someone Else"
    assert (await pipeline.submit(client, reused, key)).status_code == 422

    nomination_id = first.json()["nomination_id"]
    await pipeline.wait_status(client, nomination_id, {"notified"})

    # Behind the API's back: the same event delivered twice, and a second nomination event for the same person.
    submitted = [
        r
        for r in await pipeline.read_topic(topics.NOMINATION_SUBMITTED)
        if nomination_id.encode() in r.value and orjson.loads(r.value)["correlation_id"] == nomination_id
    ]  # other tests put malformed records on the same topic: look only at ours
    assert len(submitted) == 1
    record = submitted[0]
    await pipeline.produce(topics.NOMINATION_SUBMITTED, record.value, record.key)
    twin = orjson.loads(record.value)
    twin["event_id"] = str(uuid.uuid4())
    twin["correlation_id"] = twin["payload"]["nomination_id"] = str(uuid.uuid4())
    await pipeline.produce(topics.NOMINATION_SUBMITTED, orjson.dumps(twin), record.key)

    person_key = pipeline.person_key(person.request["nik"])

    async def twin_decided() -> bool:
        return bool(
            await pipeline.fetchval(
                "verification", "SELECT count(*) FROM verifications WHERE person_key = $1", person_key
            )
            == 2
        )

    await wait_for(twin_decided, "the twin nomination to be decided")
    twin_outcome = await pipeline.fetchval(
        "verification",
        "SELECT reasons FROM verifications WHERE nomination_id = $1",
        uuid.UUID(twin["payload"]["nomination_id"]),
    )
    assert "DUPLICATE_PERSON" in orjson.dumps(twin_outcome).decode()
    seats = await pipeline.fetchval("enrolment", "SELECT count(*) FROM seats WHERE person_key = $1", person_key)
    waiting = await pipeline.fetchval("enrolment", "SELECT count(*) FROM waitlist WHERE person_key = $1", person_key)
    assert seats + waiting == 1
    deliveries = await pipeline.fetchval(
        "notification",
        "SELECT count(*) FROM deliveries WHERE person_key = $1 AND recipient_role = 'beneficiary'"
        " AND purpose <> 'claim_reminder'",
        person_key,
    )
    assert deliveries == 1
    reminders = await pipeline.fetchval(
        "notification",
        "SELECT count(*) FROM deliveries WHERE person_key = $1 AND purpose = 'claim_reminder'",
        person_key,
    )
    assert reminders == seats  # a covered member is told how to claim once; a waiting one not yet


async def test_malformed_messages_are_dead_lettered_and_the_next_good_one_goes_through(pipeline, people, client):
    accepted, rejected = people.take("accepted")[0], people.take("rejected:REGISTRY_NOT_FOUND")[0]
    # Poison on every input topic, keyed like the good nominations that follow: same partitions, so the good
    # events queue up right behind the poison.
    for person in (accepted, rejected):
        key = pipeline.person_key(person.request["nik"]).encode()
        for topic in INPUT_TOPICS:
            await pipeline.produce(topic, b'{"event_type": "NominationSubmitted", "broken', key)

    ids = []
    for person in (accepted, rejected):
        response = await pipeline.submit(client, person.request)
        assert response.status_code == 202, response.text
        ids.append(response.json()["nomination_id"])
    await pipeline.wait_status(client, ids[0], {"notified"})
    # The rejection goes to the nominator, who may have left neither phone nor e-mail: then the failure is recorded.
    view = await pipeline.wait_status(client, ids[1], {"notified", "rejected"})
    await wait_for(lambda: _told(pipeline, client, ids[1]), f"the nominator of {ids[1]} to be told, or the failure")
    assert view["outcome"] == "rejected"

    for topic, group in CONSUMED:

        async def dead_letters(topic: str = topic, group: str = group) -> list:
            records = await pipeline.read_topic(topics.dlq(topic))
            return [
                r for r in records if b"broken" in r.value and dict(r.headers)["x-consumer-group"] == group.encode()
            ]

        ours = await wait_for(dead_letters, f"{group}'s dead letters on {topics.dlq(topic)}")
        assert len(ours) == 2, (group, ours)  # one per poison message, none twice
        headers = dict(ours[0].headers)
        assert headers["x-dlq-error-type"] == b"invalid_json"
        assert headers["x-original-topic"] == pipeline.topic(topic).encode()
        assert headers["x-dlq-reason"]


async def _told(pipeline, client, nomination_id: str) -> bool:
    view = await pipeline.nomination(client, nomination_id)
    return view["status"] == "notified" or any(h["stage"] == "notification_failed" for h in view["history"])
