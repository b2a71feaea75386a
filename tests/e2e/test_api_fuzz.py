"""Property-based fuzzing of every service's HTTP API from its own OpenAPI document (schemathesis): valid and
invalid data for every operation; the one property checked is that no answer is a 5xx."""

from __future__ import annotations

import asyncio

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from deploy.config import SERVICES

pytestmark = pytest.mark.e2e

EXAMPLES = 25  # per operation and mode: enough to find the 5xx we had, small enough for CI


def _probe(operation, mode, base_url: str, headers: dict[str, str], errors: list, calls: list):  # type: ignore[no-untyped-def]
    """A hypothesis test of one operation in one generation mode, recording every 5xx in ``errors``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same inputs on every run: a CI failure can be replayed
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def probe(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        calls.append(response.status_code)
        if response.status_code >= 500:
            errors.append((f"{operation.method.upper()} {operation.path}", response.status_code, repr(case)[:500]))

    return probe


def _fuzz(base_url: str, headers: dict[str, str], calls: list[int]) -> list[tuple[str, int, str]]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    errors: list[tuple[str, int, str]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _probe(operation, mode, base_url, headers, errors, calls)()
            except Unsatisfiable:
                continue  # nothing to make invalid (an operation without parameters or body)
    return errors


async def test_no_api_answers_5xx_to_generated_requests(pipeline, client):
    headers = {k: v for k, v in client.headers.items() if k.lower().startswith("x-api-key")}
    failures = []
    for service in SERVICES:
        calls: list[int] = []
        failures += await asyncio.to_thread(_fuzz, pipeline.url(service), headers, calls)
        assert len(calls) >= 2 * EXAMPLES, f"{service}: only {len(calls)} requests were made"
    assert not failures, "\n".join(map(str, failures[:10]))
