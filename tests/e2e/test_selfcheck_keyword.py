"""The people's side end to end (issue 15): keywords, objections, leads. The services as processes, the SMS gateway
test server beside them.

Its own pipeline (not the session's: notification sends by SMS here, to ``simulators.sms_gateway``, and takes that
gateway's signed webhooks). A nomination walks to covered; the person texts ``CEK <NIK> <birth date>`` from their
own phone at the gateway and the reply there names the KPJ number. Then an enumeration run: 30 wrong NIK / birth
date pairs from one phone and a few from other phones; no reply reveals anything, and the prober is limited.

Needs the nomination side of the keyword (InboundMessageReceived -> InboundMessageAnswered), written in parallel.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import orjson
import pytest

from deploy.native.config import REPO_ROOT
from services.notification.domain import messages, replytexts
from services.notification.domain.addresses import normalise_phone
from shared import topics
from tests.e2e.conftest import FUNDING_SOURCES, Pool
from tests.e2e.pipeline import Pipeline, build_pipeline, free_port, start_all
from tests.infra import Infra, unique_prefix
from tests.waiting import wait_for
from tools.synthetic import Nomination, mobile_number

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"
TOKEN = "e2e-sms-gateway-token"
NO_MATCH = messages.render("selfcheck_no_match", replytexts.TEMPLATE_VERSIONS["selfcheck_no_match"], {})
LIMITED = messages.render("selfcheck_limited", replytexts.TEMPLATE_VERSIONS["selfcheck_limited"], {})


@pytest.fixture(scope="module")
def gateway_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
async def sms_pipeline(
    infra: Infra, create_database: Any, tmp_path_factory: pytest.TempPathFactory, registry_csv: Any, gateway_port: int
) -> AsyncIterator[Pipeline]:
    built = await build_pipeline(
        infra.kafka_bootstrap,
        create_database,
        tmp_path_factory.mktemp("keyword"),
        unique_prefix("kw"),
        registry_csv,
        FUNDING_SOURCES,
    )
    built.env["notification"] |= {
        "PAYUNG_SMS_GATEWAY_URL": f"http://127.0.0.1:{gateway_port}/v1/sms",
        "PAYUNG_SMS_GATEWAY_TOKEN": TOKEN,
        "PAYUNG_BENEFICIARY_CHANNEL": "sms_http",
        "PAYUNG_WEBHOOK_SECRET": SECRET,
        "PAYUNG_QUIET_HOURS_CHANNELS": "",  # the test runs at any hour
        "PAYUNG_SENDING_LEASE_S": "30",  # a round now includes the SMS rate limit (10/s)
    }
    try:
        start_all(built)
        yield built
    finally:
        built.stop_all()
        await built.close()


@pytest.fixture(scope="module")
def gateway(sms_pipeline: Pipeline, gateway_port: int) -> Iterator[str]:
    command = [sys.executable, "-m", "simulators.sms_gateway", "--port", str(gateway_port), "--webhook",
               sms_pipeline.url("notification"), "--secret", SECRET, "--token", TOKEN]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=os.environ.copy())
    try:
        yield f"http://127.0.0.1:{gateway_port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def client(sms_pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30, headers={"X-API-Key": sms_pipeline.api_keys["admin"]}) as http:
        yield http


async def outbox(gateway: str, to: str) -> list[dict[str, Any]]:
    async def ask() -> list[dict[str, Any]] | None:
        try:
            async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                response = await http.get(f"{gateway}/v1/outbox", params={"to": to})
        except httpx.TransportError:
            return None  # the gateway process is still starting
        return [response.json()["messages"]] if response.status_code == 200 else None  # type: ignore[list-item]

    [found] = await wait_for(ask, "the SMS gateway test server", 30)
    return found  # type: ignore[return-value]


async def inject(gateway: str, sender: str, text: str) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{gateway}/v1/inject", json={"from": sender, "text": text})
    assert response.status_code == 200 and response.json()["status"] == 200, response.text


def cek(nik: str, birth: date) -> str:
    return f"CEK {nik} {birth:%d-%m-%Y}"


async def replies_after(gateway: str, phone: str, seen: int, count: int, what: str) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = (await outbox(gateway, phone))[seen:]
        return found if len(found) >= count else None

    return await wait_for(check, what, 120)


async def test_cek_from_a_covered_persons_phone_answers_the_kpj_number_and_enumeration_reveals_nothing(
    sms_pipeline: Pipeline, gateway: str, client: httpx.AsyncClient, people: Pool
) -> None:
    (person,) = people.take("accepted")
    response = await sms_pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    view = await sms_pipeline.wait_status(client, response.json()["nomination_id"], {"notified"}, timeout=180)
    if view["outcome"] != "enrolled":
        pytest.skip("the quota of this pipeline was full: the person was waitlisted, not covered")
    phone = normalise_phone(person.request["phone"])
    # the confirmation and the how-to-claim message planned beside it (issue 15: claim reminders at cover start)
    first = await replies_after(gateway, phone, 0, 2, "the enrolment message and the claim how-to at the gateway")
    assert len(first) == 2, first
    numbers = {m.group(0) for message in first if (m := re.search(r"\b\d{11}\b", message["text"]))}
    assert len(numbers) == 1, first
    (kpj,) = numbers

    # CEK from the person's own phone: the reply names the KPJ number
    nik, birth = person.request["nik"], date.fromisoformat(person.request["birth_date"])
    await inject(gateway, phone, cek(nik, birth))

    async def on_kafka() -> list[Any] | None:
        records = await sms_pipeline.read_topic(topics.INBOUND_MESSAGE_RECEIVED)
        found = [orjson.loads(r.value) for r in records]
        return [e for e in found if e["payload"]["phone"] == phone] or None

    [received] = await wait_for(on_kafka, "the InboundMessageReceived on Kafka", 60)
    assert received["payload"]["text"] == cek(nik, birth) and phone not in received["person_key"]
    [reply] = await replies_after(gateway, phone, 2, 1, "the reply to CEK")
    assert "KPJ" in reply["text"] and kpj in reply["text"], reply["text"]
    assert nik not in reply["text"]

    # Enumeration: 30 wrong pairs from one phone, a few from others. Nothing is revealed; the prober is limited.
    prober = "+6281399990001"
    wrong = [(f"{nik[:12]}{(int(nik[12:]) + n) % 10000:04d}", birth) for n in range(1, 16)]  # other serials
    wrong += [(nik, date(1970 + n, 1, 1)) for n in range(15) if date(1970 + n, 1, 1) != birth][:15]  # other dates
    assert len(wrong) == 30
    for candidate, when in wrong:
        await inject(gateway, prober, cek(candidate, when))
    others = ["+6281399990002", "+6281399990003", "+6281399990004"]
    for n, other in enumerate(others):
        await inject(gateway, other, cek(wrong[n][0], wrong[n][1]))
    for other in others:
        [answer] = await replies_after(gateway, other, 0, 1, "the reply to another phone")
        assert answer["text"] == NO_MATCH
    # The prober gets at most one reply per published message, each of them "no match" or "limited"
    await replies_after(gateway, prober, 0, 1, "replies to the prober")
    await _answered_and_sent(sms_pipeline)
    texts = [m["text"] for m in await outbox(gateway, prober)]
    assert set(texts) <= {NO_MATCH, LIMITED}, texts
    assert len(texts) < len(wrong), "the prober was answered every time: no limit applied"
    assert all(kpj not in t and nik not in t for t in texts)
    published = await sms_pipeline.fetchval("notification", "SELECT count(*) FROM inbound_messages WHERE published")
    limited = await sms_pipeline.fetchval("notification", "SELECT count(*) FROM inbound_messages WHERE NOT published")
    assert limited >= 1 and published + limited == 1 + len(wrong) + len(others)


async def _event_ids(pipeline: Pipeline, topic: str) -> list[Any]:
    return [orjson.loads(r.value)["event_id"] for r in await pipeline.read_topic(topic)]


async def _answered_and_sent(pipeline: Pipeline) -> None:
    """Every published inbound message consumed by nomination, every answer consumed by notification, and no reply
    left to send: the gateway's outbox is final (conditions, not time)."""

    async def drained(service: str, topic: str) -> bool:
        outbox_left = await pipeline.fetchval(service, "SELECT count(*) FROM outbox")
        return outbox_left == 0

    async def consumed(service: str, topic: str) -> bool:
        ids = [uuid.UUID(i) for i in await _event_ids(pipeline, topic)]
        done = await pipeline.fetchval(
            service, "SELECT count(DISTINCT event_id) FROM inbox WHERE event_id = ANY($1)", ids
        )
        return done == len(ids)

    await wait_for(lambda: drained("notification", topics.INBOUND_MESSAGE_RECEIVED), "notification's outbox", 60)
    await wait_for(lambda: consumed("nomination", topics.INBOUND_MESSAGE_RECEIVED), "nomination to read them", 90)
    await wait_for(lambda: drained("nomination", topics.INBOUND_MESSAGE_ANSWERED), "nomination's outbox", 60)
    await wait_for(lambda: consumed("notification", topics.INBOUND_MESSAGE_ANSWERED), "the answers consumed", 90)

    async def sent() -> bool:
        left = await pipeline.fetchval(
            "notification",
            "SELECT count(*) FROM deliveries WHERE purpose = 'inbound_reply' AND status IN ('pending', 'sending')",
        )
        return left == 0

    await wait_for(sent, "every reply sent", 60)


# --- objections (sanggahan) and leads, end to end -------------------------------------------------------------------


def _reachable(people: Pool, expected: str, desa_official: bool = False) -> Nomination:
    """A person whose nominator can be told by SMS (the only channel of this pipeline). The synthetic file has
    nominators without a phone, or with only an e-mail: telling them is a failed delivery by design, which is not what
    these tests are about, so such a nominator is given a phone. ``desa_official``: an RT or desa official
    (notification learns a desa's officials from them; Disnaker is the regency's)."""
    (person,) = people.take(
        expected, where=lambda item: not desa_official or item.request["nominator"]["type"] in ("rt", "desa")
    )
    request = copy.deepcopy(person.request)
    request["nominator"]["phone"] = request["nominator"].get("phone") or mobile_number(random.Random(request["nik"]))
    return dataclasses.replace(person, request=request)


async def _told(pipeline: Pipeline, nomination_id: str, purpose: str, count: int = 2) -> set[str]:
    """The recipients (beneficiary, nominator) a message of ``purpose`` about the nomination was sent to."""

    async def check() -> set[str] | None:
        rows = await (await pipeline.db("notification")).fetch(
            "SELECT recipient_role, status FROM deliveries WHERE nomination_id = $1 AND purpose = $2",
            uuid.UUID(nomination_id),
            purpose,
        )
        final = [r for r in rows if r["status"] not in ("pending", "sending")]
        return {r["recipient_role"] for r in final if r["status"] == "sent"} if len(final) >= count else None

    return await wait_for(check, f"the {purpose} messages of {nomination_id}", 120)


async def _decide(pipeline: Pipeline, objection_id: str, decision: str, note: str) -> dict[str, Any]:
    """A verifier takes the case up and decides it, through verification's API (with the verifier's key)."""
    headers = {"X-API-Key": pipeline.api_keys["verifier"]}
    async with httpx.AsyncClient(timeout=60, headers=headers) as verifier:

        async def queued() -> dict[str, Any] | None:
            response = await verifier.get(pipeline.url("verification", f"/v1/objections/{objection_id}"))
            return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]

        await wait_for(queued, "the objection in verification's queue", 90)
        taken = await verifier.post(pipeline.url("verification", f"/v1/objections/{objection_id}/take-up"))
        assert taken.status_code == 200 and taken.json()["state"] == "in_review", taken.text
        decided = await verifier.post(
            pipeline.url("verification", f"/v1/objections/{objection_id}/decision"),
            json={"decision": decision, "note": note},
        )
        assert decided.status_code == 200, decided.text
        again = await verifier.post(
            pipeline.url("verification", f"/v1/objections/{objection_id}/decision"),
            json={"decision": "dismissed" if decision == "upheld" else "upheld", "note": "sekali lagi"},
        )
        assert again.status_code == 409, again.text  # a decision is final
        return decided.json()  # type: ignore[no-any-return]


async def _objection_state(client: httpx.AsyncClient, pipeline: Pipeline, nomination_id: str, state: str) -> None:
    async def check() -> bool:
        response = await client.get(pipeline.url("nomination", f"/v1/nominations/{nomination_id}/objections"))
        return response.status_code == 200 and [o["state"] for o in response.json()][-1:] == [state]

    await wait_for(check, f"the objection of {nomination_id} to read {state}", 90)


async def test_an_ended_cover_objected_to_is_upheld_the_seat_restored_and_both_told(
    sms_pipeline: Pipeline, gateway: str, client: httpx.AsyncClient, people: Pool
) -> None:
    person = _reachable(people, "accepted")
    response = await sms_pipeline.submit(client, person.request)
    nomination_id = response.json()["nomination_id"]
    view = await sms_pipeline.wait_status(client, nomination_id, {"notified"}, timeout=180)
    if view["outcome"] != "enrolled":
        pytest.skip("the quota of this pipeline was full: the person was waitlisted, not covered")
    seat = (await client.get(sms_pipeline.url("enrolment", f"/v1/enrolments/{nomination_id}"))).json()

    # The cover ends (a roster said the member became a wage earner: a fact that can be wrong)
    ended = await client.post(
        sms_pipeline.url("enrolment", f"/v1/enrolments/{nomination_id}/end"),
        json={"reason": "became_wage_earner", "effective_date": date.today().isoformat()},
    )
    assert ended.status_code == 200, ended.text
    await wait_for(
        lambda: _outcome_is(client, sms_pipeline, nomination_id, "ended"), "the nomination to read ended", 90
    )

    # The nominator objects from the portal's API: received, then in review, then upheld
    filed = await client.post(
        sms_pipeline.url("nomination", f"/v1/nominations/{nomination_id}/objections"),
        json={"reason_code": "still_eligible", "reason_text": "Masih buruh harian, bukan pekerja penerima upah."},
    )
    assert filed.status_code == 202, filed.text
    objection = filed.json()
    assert objection["state"] == "received" and date.fromisoformat(objection["due_by"]) > date.today()
    assert await _told(sms_pipeline, nomination_id, "objection_received") == {"beneficiary", "nominator"}
    decided = await _decide(sms_pipeline, objection["objection_id"], "upheld", "Data daftar upah keliru.")
    assert decided["state"] == "upheld"

    # The seat is back (same source, same KPJ number with the programme's own issuer), the nomination covered again
    await wait_for(
        lambda: _outcome_is(client, sms_pipeline, nomination_id, "enrolled"), "the nomination covered again", 120
    )
    restored = (await client.get(sms_pipeline.url("enrolment", f"/v1/enrolments/{nomination_id}"))).json()
    assert restored["status"] == seat["status"] and restored["membership_number"] == seat["membership_number"]
    await _objection_state(client, sms_pipeline, nomination_id, "upheld")
    assert await _told(sms_pipeline, nomination_id, "objection_decided") == {"beneficiary", "nominator"}
    quota = await sms_pipeline.fetchval("enrolment", "SELECT count(*) FROM funding_sources WHERE used > quota")
    assert quota == 0


async def test_a_rejection_objected_to_is_dismissed_and_both_told(
    sms_pipeline: Pipeline, gateway: str, client: httpx.AsyncClient, people: Pool
) -> None:
    person = _reachable(people, "rejected:DECEASED")
    response = await sms_pipeline.submit(client, person.request)
    nomination_id = response.json()["nomination_id"]
    await sms_pipeline.wait_status(client, nomination_id, {"rejected", "notified"}, timeout=180)
    filed = await client.post(
        sms_pipeline.url("nomination", f"/v1/nominations/{nomination_id}/objections"),
        json={"reason_code": "data_corrected", "reason_text": "Yang bersangkutan masih hidup."},
    )
    assert filed.status_code == 202, filed.text
    objection_id = filed.json()["objection_id"]
    twice = await client.post(
        sms_pipeline.url("nomination", f"/v1/nominations/{nomination_id}/objections"),
        json={"reason_code": "other", "reason_text": "kedua"},
    )
    assert twice.status_code == 409, twice.text  # one open objection per nomination
    await _decide(sms_pipeline, objection_id, "dismissed", "Dukcapil mencatat yang bersangkutan telah meninggal.")
    await _objection_state(client, sms_pipeline, nomination_id, "dismissed")
    assert await _told(sms_pipeline, nomination_id, "objection_decided") == {"beneficiary", "nominator"}
    assert (await sms_pipeline.nomination(client, nomination_id))["outcome"] == "rejected"


async def test_a_daftar_keyword_becomes_a_lead_for_the_desa_officials(
    sms_pipeline: Pipeline, gateway: str, client: httpx.AsyncClient, people: Pool
) -> None:
    from shared.regions import default_regions

    # a nomination from this desa by one of its officials: notification learns the official from its events
    person = _reachable(people, "accepted", desa_official=True)
    response = await sms_pipeline.submit(client, person.request)
    await sms_pipeline.wait_status(client, response.json()["nomination_id"], {"notified"}, timeout=180)
    desa_code = person.request["address"]["desa_code"]
    desa = default_regions().get(desa_code)
    assert desa is not None
    worker = "+6281377770001"
    await inject(gateway, worker, f"DAFTAR Siti Rahmawati#{desa.name}#nelayan")
    [reply] = await replies_after(gateway, worker, 0, 1, "the reply to DAFTAR")
    assert reply["text"] != NO_MATCH

    async def listed() -> list[dict[str, Any]] | None:
        found = await client.get(sms_pipeline.url("nomination", "/v1/leads"), params={"desa_code": desa_code})
        leads = (
            [lead for lead in found.json() if lead["phone"].endswith(worker[-3:])] if found.status_code == 200 else []
        )
        return leads or None

    [lead] = await wait_for(listed, "the lead on the desa's list", 90)
    assert lead["occupation"] == "nelayan" and lead["state"] in {"new", "received"}

    # The desa's official (notification learned them from the accepted nomination) is told of the lead
    official = normalise_phone(person.request["nominator"]["phone"])

    async def told_official() -> list[dict[str, Any]] | None:
        return [m for m in await outbox(gateway, official) if "Siti Rahmawati" in m["text"]] or None

    [notice] = await wait_for(told_official, "the lead told to the desa's official", 90)
    assert worker in notice["text"] and "Nelayan" in notice["text"]


async def _outcome_is(client: httpx.AsyncClient, pipeline: Pipeline, nomination_id: str, outcome: str) -> bool:
    return bool((await pipeline.nomination(client, nomination_id))["outcome"] == outcome)
