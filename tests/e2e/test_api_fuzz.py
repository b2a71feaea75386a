"""Property-based fuzzing of every service's HTTP API from its own OpenAPI document (schemathesis): valid and
invalid data (negative generation) for every operation, then stateful sequences that follow the links schemathesis
infers between operations (a POST's id fed to the GETs that take it). The property checked: no answer is a 5xx.
Bounded for CI: ``EXAMPLES`` per operation and mode, ``SCENARIOS`` stateful scenarios of ``STEPS`` steps."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from deploy.native.config import SERVICES

# A long check (minutes on two cores): `./payung test --long` or `bash .ci/long`, outside CI (README, "Evidence").
pytestmark = [pytest.mark.e2e, pytest.mark.long]

EXAMPLES = 25  # per operation and mode: enough to find the 5xx we had, small enough for CI
SCENARIOS, STEPS = 15, 6


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
    _stateful(schema, base_url, headers, errors, calls)
    return errors


def _stateful(schema, base_url: str, headers: dict[str, str], errors: list, calls: list) -> None:  # type: ignore[no-untyped-def]
    """Sequences of calls along the links schemathesis infers from the document (ids from responses)."""
    machine = schema.as_state_machine()
    if not any(hasattr(member, "hypothesis_stateful_rule") for _, member in inspect.getmembers(machine)):
        return  # no operation produces what another consumes (enrolment, reporting): nothing to chain

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            return {"base_url": base_url, "headers": headers, "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:  # type: ignore[no-untyped-def]
            calls.append(response.status_code)
            if response.status_code >= 500:
                where = f"stateful {case.operation.method.upper()} {case.operation.path}"
                errors.append((where, response.status_code, repr(case)[:500]))

    Sequences.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )


async def test_no_api_answers_5xx_to_generated_requests(pipeline, client):
    headers = {k: v for k, v in client.headers.items() if k.lower().startswith("x-api-key")}
    failures = []
    for service in SERVICES:
        calls: list[int] = []
        failures += await asyncio.to_thread(_fuzz, pipeline.url(service), headers, calls)
        assert len(calls) >= 2 * EXAMPLES, f"{service}: only {len(calls)} requests were made"
    assert not failures, "\n".join(map(str, failures[:10]))
