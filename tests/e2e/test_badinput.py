"""The bad-input corpus (tests/badinput/corpus.py) against the running services: every malformed request gets a
4xx with a reason, every malformed Kafka message a dead-letter record with its cause, hostile-looking but valid
data is stored verbatim, and the services stay up: a good nomination sent afterwards is notified."""

from __future__ import annotations

import json
import unicodedata
import uuid

import httpx
import psutil
import pytest
from aiokafka import AIOKafkaProducer

from deploy.native import stack
from deploy.native.config import SERVICES
from shared.topics import dlq
from tests.badinput.corpus import BATCH, batch_item_cases, edge_cases, http_cases, kafka_cases
from tests.e2e.pipeline import wait_for

pytestmark = pytest.mark.e2e


def _reason(body: bytes) -> str:
    """The problem the answer names: a code, a message, field errors or FastAPI's detail; '' when none."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("errors") or data.get("message") or data.get("detail") or data.get("code") or "")


async def test_every_malformed_request_gets_a_4xx_with_a_reason(pipeline, people, client):
    """Every service, every class: a 4xx problem document (RFC 9457) naming the problem, never a 5xx, never the
    submitted value repeated."""
    good = people.take("accepted")[0].request
    failures = []
    async with httpx.AsyncClient(timeout=60) as anonymous:
        for case in http_cases(good) + edge_cases():
            sender = anonymous if case.anonymous else client
            url = pipeline.url(case.service, case.path)
            response = await sender.request(case.method, url, content=case.body, headers=case.headers)
            problem = response.headers.get("content-type", "").startswith("application/problem+json")
            echoed = case.secret is not None and case.secret in response.text
            if response.status_code not in case.status or not _reason(response.content) or not problem or echoed:
                failures.append((case.service, case.name, response.status_code, response.text[:200]))
    assert not failures, "\n".join(map(str, failures))
    # None of them created anything for this person.
    count = await pipeline.fetchval("nomination", "SELECT count(*) FROM nominations WHERE nik = $1", good["nik"])
    assert count == 0


async def test_anonymous_huge_posts_do_not_grow_a_service(pipeline, client):
    """8 anonymous 50 MB POSTs took verification from 96 MB to 622 MB RSS: the key is now checked before a byte of
    the body is read, so the service's memory stays where it was (the bound leaves room for allocator noise)."""
    pid = stack._service_pid(pipeline.cfg, "verification")
    assert pid is not None
    process = psutil.Process(pid)
    before = process.memory_info().rss
    body = b"x" * (50 * 1024 * 1024)
    async with httpx.AsyncClient(timeout=120) as anonymous:
        for _ in range(8):
            response = await anonymous.post(pipeline.url("verification", "/v1/reviews/1/decision"), content=body)
            assert response.status_code == 401
    grown = process.memory_info().rss - before
    print(f"verification RSS {before / 2**20:.0f} MB -> {(before + grown) / 2**20:.0f} MB after 8 x 50 MB anonymous")
    assert grown < 50 * 1024 * 1024


async def test_bad_items_of_a_batch_are_refused_one_by_one(pipeline, people, client):
    good = people.take("accepted")[0].request
    cases = batch_item_cases(people.take("accepted")[0].request)
    items = [{"nomination": item} for _, item in cases] + [{"nomination": good}]
    response = await client.post(pipeline.url("nomination", BATCH), json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    for (name, _), result in zip(cases, results, strict=False):
        assert result["status"] == 422 and result["errors"], (name, result)
    assert results[-1]["status"] == 202  # the good one in the same batch went through
    await pipeline.wait_status(client, results[-1]["nomination_id"], {"notified"}, timeout=120)


async def test_hostile_looking_but_valid_data_is_stored_verbatim(pipeline, people, client):
    injection = "Jl. Merdeka'); DROP TABLE nominations;-- <script>alert(1)</script>"
    first, second = people.take("accepted", 2)
    request = {**first.request, "address": {**first.request["address"], "street": injection}}
    response = await pipeline.submit(client, request)
    assert response.status_code == 202, response.text
    decomposed = unicodedata.normalize("NFD", second.request["full_name"] + " é")
    response2 = await pipeline.submit(client, {**second.request, "full_name": decomposed})
    assert response2.status_code == 202, response2.text
    stored = await pipeline.fetchval(
        "nomination",
        "SELECT address->>'street' FROM nominations WHERE id = $1",
        uuid.UUID(response.json()["nomination_id"]),
    )
    assert stored == injection
    name = await pipeline.fetchval(
        "nomination", "SELECT full_name FROM nominations WHERE id = $1", uuid.UUID(response2.json()["nomination_id"])
    )
    assert name == unicodedata.normalize("NFC", decomposed)


async def test_every_malformed_event_is_dead_lettered_with_its_cause(pipeline, people, client):
    cases = kafka_cases(people.take("accepted")[0].request)
    topic = pipeline.topic("nomination.submitted")
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.kafka_bootstrap, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        sent = {}
        for name, value in cases:
            meta = await producer.send_and_wait(topic, value, key=b"badinput")
            sent[(meta.partition, meta.offset)] = name
    finally:
        await producer.stop()

    async def dead_letters() -> dict | None:
        found = {}
        for record in await pipeline.read_topic(dlq("nomination.submitted")):
            headers = {k: v.decode() for k, v in record.headers}
            if headers["x-consumer-group"] != "verification.nomination.submitted":
                continue  # the reporting service consumes this topic too and dead-letters the same records
            where = (int(headers["x-original-partition"]), int(headers["x-original-offset"]))
            if where in sent:
                found[sent[where]] = headers
        return found if len(found) == len(sent) else None

    found = await wait_for(dead_letters, "a dead letter for every malformed event", timeout=120)
    for name, headers in found.items():
        assert headers["x-dlq-reason"] and headers["x-dlq-error-type"], name
        assert headers["x-consumer-group"] == "verification.nomination.submitted", name

    # The services are still up and good traffic flows.
    for service in SERVICES:
        assert (await client.get(pipeline.url(service, "/health/live"))).status_code == 200
    good = people.take("accepted")[0].request
    response = await pipeline.submit(client, good)
    assert response.status_code == 202, response.text
    await pipeline.wait_status(client, response.json()["nomination_id"], {"notified"}, timeout=120)
