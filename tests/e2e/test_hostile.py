"""The short hostile-input suite (CI): ``python -m bench.hostile --short`` on an instance of its own.

Runs the suite as the operator would, on its own Kafka, PostgreSQL and five services next to the test instance
(ports 200 above it): poison records on every input topic, forged events, hostile HTTP requests. The suite measures
and exits 1 on any 5xx, stall, forged event accepted or message sent that should not have been; this test passes
only when it exited 0, and checks that every class was actually tried (a suite that sent nothing proves nothing).
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


def _instance_env(test: StackTestConfig) -> dict[str, str]:
    """Ports 200 above the test instance's (the endpoint-fault suite takes +100), a directory inside it."""
    return {
        "PAYUNG_STACK_DIR": str(test.stack_dir / "hostile"),
        "PAYUNG_KAFKA_PORT": str(test.kafka_port + 200),
        "PAYUNG_KAFKA_CONTROLLER_PORT": str(test.kafka_controller_port + 200),
        "PAYUNG_PG_PORT": str(test.pg_port + 200),
        **{f"PAYUNG_{name.upper()}_PORT": str(getattr(test, f"{name}_port") + 200) for name in stack.SERVICES},
    }


def test_hostile_input_changes_nothing_it_should_not(tmp_path: Path) -> None:
    env = _instance_env(StackTestConfig())
    command = [sys.executable, "-m", "bench.hostile", "--short", "--results-dir", str(tmp_path)]
    try:
        run = subprocess.run(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=900
        )
    finally:
        instance = StackConfig(**{k.removeprefix("PAYUNG_").lower(): v for k, v in env.items()})
        stack.stop_services(instance)
        kafka.stop(instance)
        postgres.stop(instance)
    print(run.stdout[-6000:])
    (result_file,) = tmp_path.glob("hostile-*.json")
    result = json.loads(result_file.read_text())
    # every class was tried, and landed
    assert result["poison"]["sent"] > 100 and result["forged"]["sent"] > 10
    assert result["baseline"]["not_told"] == 0
    http = {name: t for name, t in result["http"].items() if isinstance(t, dict) and "sent" in t}
    assert sum(t["sent"] for t in http.values()) > 100
    assert run.returncode == 0, f"{result['failures']}\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    assert result["failures"] == []
