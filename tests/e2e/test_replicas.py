"""Two replicas of every service (ten processes), one replica of each SIGKILLed in turn during a stream: 0 lost,
0 duplicated, quotas exact.

The replicas are started by deploy/native/stack.py exactly as ``./payung up --replicas <service>=2`` starts them: same
database and consumer groups per service, replica 2 on the service's port + 100. 300 synthetic nominations are
submitted one by one over ~20 s, alternately to both nomination replicas (a client whose replica is gone retries with
its Idempotency-Key on the other, as a load balancer would send it). During the stream the replica of each service
that holds the outbox relay's advisory lock is SIGKILLed, a few seconds apart, and NOT restarted: the survivor has to
take over the dead one's partitions (a consumer-group rebalance, once the broker's session timeout notices the dead
member) and the relay (PostgreSQL drops the dead session and its lock). The test prints, per service, the time from
the SIGKILL to the survivor owning every partition of each of the service's groups, and to its relay publishing.

Ports: the test instance's service ports (PAYUNG_TEST_*_PORT) + 10 (replica 2: + 110), so neither the other e2e
tests (ephemeral ports) nor another instance's services collide with them; if one is taken when a replica binds
(ports inside the ephemeral range can be, by any outgoing connection), the start is tried again at + 20, then + 30.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DescribeGroupsRequest_v0, DescribeGroupsRequest_v1, DescribeGroupsRequest_v2
from aiokafka.protocol.api import Request

from deploy.native import stack
from deploy.native.config import SERVICES, StackError, StackTestConfig
from deploy.native.procs import port_open
from tests.e2e.pipeline import FINAL, Pipeline, build_pipeline, wait_for
from tests.infra import Infra, unique_prefix
from tools.synthetic import generate_nominations, programme_today

# A long check (minutes on two cores): `./payung test --long` or `bash .ci/long`, outside CI (README, "Evidence").
pytestmark = [pytest.mark.e2e, pytest.mark.long]

STREAM = 300
REPLICAS = 2
PORT_OFFSET = 10
# ~250 of the 300 are accepted: the quotas fill and the rest is waitlisted (checked below).
FUNDING_SOURCES = [
    {"code": "APBD-KAB", "name": "APBD Kabupaten Kutai Timur", "quota": 100, "priority": 1, "premium_idr": 16800},
    {"code": "APBD-PROV", "name": "APBD Provinsi Kalimantan Timur", "quota": 40, "priority": 2, "premium_idr": 16800},
]
QUOTA_TOTAL = sum(s["quota"] for s in FUNDING_SOURCES)
# Killed in this order, each after another seventh of the stream was answered; nomination last, so that most of
# the stream went through both of its replicas.
KILL_ORDER = ("verification", "enrolment", "notification", "reporting", "nomination")
DISPATCH_BATCH = 50  # PAYUNG_DISPATCH_BATCH_SIZE of tests/e2e/pipeline.py: the most a killed dispatcher had in flight


@pytest.fixture
async def replicated(
    infra: Infra, create_database, tmp_path_factory: pytest.TempPathFactory, registry_csv: Path
) -> AsyncIterator[Pipeline]:
    workdir = tmp_path_factory.mktemp("replicas")
    built = await build_pipeline(
        infra.kafka_bootstrap, create_database, workdir, unique_prefix("rep"), registry_csv, FUNDING_SOURCES
    )
    # Daily digests (made after 16:00 WITA) would add messages not tied to one nomination: not this test's subject.
    built.env["notification"]["PAYUNG_DIGEST_ENABLED"] = "false"
    base = StackTestConfig()
    replicas = ",".join(f"{name}={REPLICAS}" for name in SERVICES)
    try:
        for attempt in range(1, 4):
            offset = PORT_OFFSET * attempt
            ports = {f"{name}_port": base.service_port(name) + offset for name in SERVICES}
            built.cfg = built.cfg.model_copy(update={**ports, "replicas": replicas})
            cfg = built.cfg
            if any(port_open(cfg.host, cfg.service_port(n, k)) for n, k in cfg.instances()) and attempt < 3:
                continue  # something listens there (its health check would answer for ours): the next offset
            try:
                await asyncio.to_thread(stack.start_services, built.cfg, None, built.env)
                break
            except StackError as exc:
                # Test ports inside the kernel's ephemeral range (36xxx on a developer's machine; CI's 18xxx are
                # not) can be taken by any outgoing connection between our check and the service's bind.
                built.stop_all()
                if "address already in use" not in str(exc) or attempt == 3:
                    raise
        yield built
    finally:
        built.stop_all()
        await built.close()


def _url(pipeline: Pipeline, service: str, replica: int, path: str) -> str:
    return f"http://{pipeline.cfg.host}:{pipeline.cfg.service_port(service, replica)}{path}"


async def _health(client: httpx.AsyncClient, pipeline: Pipeline, service: str, replica: int) -> dict[str, Any]:
    response = await client.get(_url(pipeline, service, replica, "/health/ready"))
    return response.json()  # type: ignore[no-any-return]


async def _submit(
    client: httpx.AsyncClient, pipeline: Pipeline, request: dict[str, Any], key: str, first: int
) -> httpx.Response:
    """POST to nomination replica ``first``; through a refused connection or a 5xx, the other replica, same key."""
    order = [first, 3 - first]
    deadline = time.monotonic() + 120
    while True:
        for replica in order:
            try:
                response = await client.post(
                    _url(pipeline, "nomination", replica, "/v1/nominations"),
                    json=request,
                    headers={"Idempotency-Key": key},
                )
                if response.status_code < 500:
                    return response
            except httpx.TransportError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError("no nomination replica answered")
        await asyncio.sleep(0.3)


async def _leader(client: httpx.AsyncClient, pipeline: Pipeline, service: str) -> tuple[int, list[str]]:
    """The replica whose outbox relay holds the advisory lock (the one to kill), and the service's consumer groups."""

    async def find() -> tuple[int, list[str]] | None:
        for replica in (1, 2):
            health = await _health(client, pipeline, service, replica)
            if health["relay"]["leader"]:
                return replica, [pipeline.prefix + name for name in health["consumers"]]
        return None

    return await wait_for(find, f"one {service} replica to lead the outbox relay", timeout=30)


class _DescribeGroups(Request[DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2]):
    """DescribeGroups at v2 at most: aiokafka 0.14 decodes a v3 answer with v2's schema (its v3 request names the v2
    response type) and fails with "Buffer underrun", so ``describe_consumer_groups`` is unusable on Kafka 4."""

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self._groups)


async def _rebalanced(pipeline: Pipeline, groups: list[str], since: float) -> float:
    """Seconds from ``since`` (the SIGKILL) until every group of ``groups`` is Stable with one member: the broker's
    session timeout dropped the dead member and the group rebalanced its partitions onto the survivor. (Until then
    the dead member's partitions stand still; the survivor's are consumed throughout.)"""
    admin = AIOKafkaAdminClient(bootstrap_servers=pipeline.kafka_bootstrap)
    await admin.start()
    try:

        async def settled() -> bool:
            for group in groups:
                node = await admin.find_coordinator(group)
                (described,) = (await admin._client.send(node, _DescribeGroups([group]))).groups
                _error, _name, state, _type, _protocol, members = described
                if (state, len(members)) != ("Stable", 1):
                    return False
            return True

        await wait_for(settled, f"{groups} to rebalance onto the surviving replica", timeout=90)
        return time.monotonic() - since
    finally:
        await admin.close()


async def test_two_replicas_of_every_service_one_of_each_sigkilled(replicated: Pipeline, registry_csv: Path) -> None:
    pipeline = replicated
    items = list(generate_nominations(registry_csv, STREAM, seed=5, regency="64.08", reference_date=programme_today()))
    keys = [str(uuid.uuid4()) for _ in items]
    answers: dict[int, httpx.Response] = {}
    killed: dict[str, int] = {}
    figures: dict[str, dict[str, float]] = {}

    async with httpx.AsyncClient(timeout=30, headers={"X-API-Key": pipeline.api_keys["admin"]}) as client:

        async def stream() -> None:
            started = time.monotonic()
            for index, (item, key) in enumerate(zip(items, keys, strict=True)):
                answers[index] = await _submit(client, pipeline, item.request, key, first=1 + index % 2)
                await asyncio.sleep(0.03)  # ~20 s for the stream on two busy cores
            print(f"replicas: {STREAM} submitted in {time.monotonic() - started:.1f} s")

        async def kill_in_turn() -> None:
            measures = []
            for turn, service in enumerate(KILL_ORDER, start=1):

                async def under_way(mark: int = turn * STREAM // (len(KILL_ORDER) + 2)) -> bool:
                    return len(answers) >= mark

                await wait_for(under_way, f"the stream to be under way before killing {service}")
                replica, groups = await _leader(client, pipeline, service)
                t0 = time.monotonic()
                assert stack.kill_service(pipeline.cfg, service, replica=replica), f"{service}-{replica} not running"
                killed[service] = replica
                measures.append(asyncio.create_task(_takeover(client, pipeline, service, 3 - replica, groups, t0)))
            for service, figure in zip(KILL_ORDER, await asyncio.gather(*measures), strict=True):
                figures[service] = figure

        await asyncio.gather(stream(), kill_in_turn())
        print("replicas: SIGKILLed", {s: f"{s}-{r}" if r > 1 else s for s, r in killed.items()})
        print("replicas: seconds from SIGKILL to the survivor's takeover", json.dumps(figures))

        # Every answer is what the generator intended (a retry on the other replica got the first answer back).
        for index, item in enumerate(items):
            expected = {"duplicate": 409, "invalid": 422}.get(item.expected, 202)
            assert answers[index].status_code == expected, (item.fault, answers[index].text)
        accepted = [uuid.UUID(answers[i].json()["nomination_id"]) for i in answers if answers[i].status_code == 202]
        await _check_nothing_lost_nothing_twice(pipeline, accepted)


async def _takeover(
    client: httpx.AsyncClient, pipeline: Pipeline, service: str, survivor: int, groups: list[str], t0: float
) -> dict[str, float]:
    """How long the survivor took to own the dead replica's partitions and to lead the relay."""

    async def leads() -> float:
        async def check() -> bool:
            return bool((await _health(client, pipeline, service, survivor))["relay"]["leader"])

        await wait_for(check, f"the surviving {service} replica to lead the outbox relay")
        return time.monotonic() - t0

    partitions, relay = await asyncio.gather(_rebalanced(pipeline, groups, t0), leads())
    return {"partitions_s": round(partitions, 1), "relay_s": round(relay, 1)}


async def _check_nothing_lost_nothing_twice(pipeline: Pipeline, accepted: list[uuid.UUID]) -> None:
    # 0 lost: every accepted nomination reaches a final state and its people are told (or the failure to tell a
    # nominator with neither phone nor e-mail is on record).
    async def all_final_and_told() -> bool:
        untold = await pipeline.fetchval(
            "nomination",
            """
            SELECT count(*) FROM nominations n WHERE n.id = ANY($1::uuid[]) AND NOT (
                n.status = 'notified' OR (n.status = ANY($2::text[]) AND EXISTS (
                    SELECT 1 FROM nomination_history h WHERE h.nomination_id = n.id
                    AND h.stage = 'notification_failed')))
            """,
            accepted,
            sorted(FINAL),
        )
        return untold == 0 and await pipeline.fetchval(
            "nomination", "SELECT count(*) FROM nominations WHERE id = ANY($1::uuid[])", accepted
        ) == len(accepted)

    await wait_for(all_final_and_told, "every accepted nomination to be decided and told", timeout=180)

    # 0 duplicated, quotas exact: one verification per nomination, one seat or waitlist place per verified
    # person, seats used == enrolled, never above quota, and the waitlist exercised.
    verifications = await pipeline.fetchval(
        "verification", "SELECT count(DISTINCT nomination_id) || '/' || count(*) FROM verifications"
    )
    assert verifications == f"{len(accepted)}/{len(accepted)}"
    verified = await pipeline.fetchval("verification", "SELECT count(*) FROM verifications WHERE outcome = 'verified'")
    assert await pipeline.fetchval("enrolment", "SELECT count(*) - count(DISTINCT nik) FROM seats") == 0
    assert await pipeline.fetchval("enrolment", "SELECT count(*) - count(DISTINCT nik) FROM waitlist") == 0
    seats = await pipeline.fetchval("enrolment", "SELECT count(*) FROM seats")
    waiting = await pipeline.fetchval("enrolment", "SELECT count(*) FROM waitlist")
    used = await pipeline.fetchval("enrolment", "SELECT sum(used) FROM funding_sources")
    assert await pipeline.fetchval("enrolment", "SELECT count(*) FROM funding_sources WHERE used > quota") == 0
    assert seats == used == min(QUOTA_TOTAL, verified)
    assert seats + waiting == verified and waiting > 0
    outcomes = Counter(
        dict(await (await pipeline.db("nomination")).fetch("SELECT outcome, count(*) FROM nominations GROUP BY 1"))
    )
    assert outcomes["enrolled"] == seats and outcomes["waitlisted"] == waiting
    assert outcomes["rejected"] == len(accepted) - verified

    # One delivery per (nomination, purpose, recipient), and one message per (nomination, purpose) in the channel's
    # file; a line written twice is the documented in-flight edge of the killed dispatcher (at most its claimed
    # round), resent under the same delivery id a provider deduplicates on.
    assert (
        await pipeline.fetchval(
            "notification",
            "SELECT count(*) FROM (SELECT 1 FROM deliveries GROUP BY nomination_id, purpose, recipient_role"
            " HAVING count(*) > 1) AS twice",
        )
        == 0
    )
    deliveries = {
        str(r["id"]): (r["nomination_id"], r["purpose"], r["recipient_role"])
        for r in await (await pipeline.db("notification")).fetch(
            "SELECT id, nomination_id, purpose, recipient_role FROM deliveries WHERE status = 'sent'"
        )
    }
    lines = Counter(json.loads(line)["delivery_id"] for line in pipeline.messages_file.read_text().splitlines())
    assert set(lines) == set(deliveries), "every sent delivery is in the file, and nothing else"
    per_message = Counter(deliveries[d] for d in lines)
    assert max(per_message.values()) == 1
    resent = {d: n for d, n in lines.items() if n > 1}
    assert all(n == 2 for n in resent.values()) and len(resent) <= DISPATCH_BATCH, resent
    print(f"replicas: {len(lines)} messages, {len(resent)} written twice by the killed dispatcher's round in flight")

    # The reporting read model counted each nomination once, with the outcomes the other services decided.
    async def reported() -> bool:
        row = await (await pipeline.db("reporting")).fetchrow(
            "SELECT count(*) AS n, count(enrolled_at) AS enrolled, count(rejected_at) AS rejected"
            " FROM report_nominations"
        )
        return (row["n"], row["enrolled"], row["rejected"]) == (len(accepted), seats, outcomes["rejected"])

    await wait_for(reported, "the reporting read model to count every nomination once", timeout=60)

    async def drained() -> bool:
        return all([await pipeline.fetchval(s, "SELECT count(*) = 0 FROM outbox") for s in SERVICES])

    await wait_for(drained, "every outbox to drain", timeout=60)
