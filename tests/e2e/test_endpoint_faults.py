"""The short fault suite for the agencies' endpoints (CI): the civil registry and BPJS fail and hang mid-stream.

Runs ``python -m bench.faults --short`` as the operator would, on an instance of its own next to the test
instance (its own Kafka, PostgreSQL, five services, and the registry and BPJS simulators as processes, talked
to over HTTP): each endpoint answers 503 for 5 s, then hangs for 5 s, and the verification and enrolment services
are SIGKILLed mid-call. The suite exits 0 only when every invariant of bench/checks.py holds; this test also
checks that the faults were felt (requests were retried) and that no outage changed an outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.native import kafka, postgres, stack
from deploy.native.config import REPO_ROOT, StackConfig, StackTestConfig

# A long check (minutes on two cores): `./payung test --long` or `bash .ci/long`, outside CI (README, "Evidence").
pytestmark = [pytest.mark.e2e, pytest.mark.long]

NOMINATIONS = 1500


def _instance_env(test: StackTestConfig) -> dict[str, str]:
    """Ports 100 above the test instance's, a directory inside it: never the developer's or the benchmark's."""
    return {
        "PAYUNG_STACK_DIR": str(test.stack_dir / "endpoint-faults"),
        "PAYUNG_KAFKA_PORT": str(test.kafka_port + 100),
        "PAYUNG_KAFKA_CONTROLLER_PORT": str(test.kafka_controller_port + 100),
        "PAYUNG_PG_PORT": str(test.pg_port + 100),
        **{f"PAYUNG_{name.upper()}_PORT": str(getattr(test, f"{name}_port") + 100) for name in stack.SERVICES},
        "PAYUNG_FAULTS_REGISTRY_SIM_PORT": str(test.reporting_port + 185),
        "PAYUNG_FAULTS_BPJS_SIM_PORT": str(test.reporting_port + 186),
    }


def test_registry_and_bpjs_outages_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    env = _instance_env(StackTestConfig())
    command = [sys.executable, "-m", "bench.faults", "--short", "--nominations", str(NOMINATIONS)]
    command += ["--people", "20000", "--timeout", "480", "--results-dir", str(tmp_path)]
    try:
        run = subprocess.run(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=900
        )
    finally:
        instance = StackConfig(**{k.removeprefix("PAYUNG_").lower(): v for k, v in env.items() if "FAULTS" not in k})
        stack.stop_services(instance)
        kafka.stop(instance)
        postgres.stop(instance)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    (result_file,) = tmp_path.glob("faults-*.json")
    result = json.loads(result_file.read_text())
    figures = result["figures"]

    assert figures["violations"] == []
    assert [f["fault"] for f in result["faults"]] == [
        "civil registry answers 503 for 5 s",
        "civil registry hangs (30 s an answer) for 5 s",
        "BPJS answers 503 for 5 s",
        "BPJS hangs (30 s an answer) for 5 s",
        "SIGKILL verification",
        "SIGKILL enrolment",
    ]
    # The outages were felt: look-ups and registrations were asked again, under the same reference at BPJS.
    assert figures["registry_requests"] > figures["verifications"]
    assert figures["bpjs"]["requests"] > figures["bpjs"]["references"] == figures["seats"] > 0
    # ...and changed no outcome: every nomination ended as the generator intended.
    assert figures["outcomes"]["actual"] == figures["outcomes"]["intended"]
    assert figures["without_final_outcome"] == 0 and figures["seats_pending_bpjs"] == 0
