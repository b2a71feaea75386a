"""Every service's API needs a key; health, docs and metrics stay open; the metrics count the pipeline's work."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from deploy.native.config import SERVICES
from shared import topics

pytestmark = pytest.mark.e2e


def _a_get_route(openapi: dict) -> str:
    """Some GET route of the service's own API (the first one without path parameters)."""
    paths = [p for p, ops in openapi["paths"].items() if "get" in ops and "{" not in p and p.startswith("/v1/")]
    assert paths, openapi["paths"].keys()
    return paths[0]


async def test_every_service_api_requires_a_key(pipeline):
    async with httpx.AsyncClient(timeout=30) as anonymous:
        for service in SERVICES:
            assert (await anonymous.get(pipeline.url(service, "/health/live"))).status_code == 200
            openapi = (await anonymous.get(pipeline.url(service, "/openapi.json"))).json()
            route = _a_get_route(openapi)
            refused = await anonymous.get(pipeline.url(service, route))
            assert refused.status_code == 401, (service, route, refused.text)
            auditor = {"X-API-Key": pipeline.api_keys["auditor"]}
            allowed = await anonymous.get(pipeline.url(service, route), headers=auditor)
            assert allowed.status_code not in (401, 403), (service, route, allowed.text)


async def test_metrics_count_events_in_and_out(pipeline, people, client):
    (person,) = people.take("accepted")
    response = await pipeline.submit(client, person.request)
    assert response.status_code == 202, response.text
    await pipeline.wait_status(client, response.json()["nomination_id"], {"notified"})

    async with httpx.AsyncClient(timeout=30) as scraper:
        text = (await scraper.get(pipeline.url("nomination", "/metrics"))).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    published = {s.labels["topic"]: s.value for s in families["payung_events_published"].samples}
    assert published.get(pipeline.topic(topics.NOMINATION_SUBMITTED), 0) >= 1, published
    consumed = [s for s in families["payung_events_consumed"].samples if s.labels.get("result") == "processed"]
    assert sum(s.value for s in consumed) >= 1
    assert person.request["nik"] not in text
