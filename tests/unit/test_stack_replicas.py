"""Replicas on the native stack: names, ports, pid files and the PAYUNG_REPLICAS / --replicas syntax."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy.cli import _merged_replicas
from deploy.native import stack
from deploy.native.config import StackConfig, StackError, instance_name, parse_instance, parse_replicas


def test_replica_one_keeps_the_service_s_names_and_port_and_the_others_are_offset(tmp_path: Path) -> None:
    cfg = StackConfig(stack_dir=tmp_path, replicas="verification=3,enrolment=2")
    assert cfg.service_port("verification") == cfg.service_port("verification", 1) == 8002
    assert cfg.service_port("verification", 3) == 8202
    assert [instance_name(n, k) for n, k in cfg.instances()] == [
        "nomination",
        "verification",
        "enrolment",
        "notification",
        "reporting",
        "verification-2",
        "enrolment-2",
        "verification-3",
    ]
    assert stack.service_env(cfg, "verification", 2)["PAYUNG_HTTP_PORT"] == "8102"
    assert stack.log_file(cfg, "verification-2") == tmp_path / "logs" / "verification-2.log"
    assert StackConfig(stack_dir=tmp_path).instances() == [(n, 1) for n in stack.SERVICES]


@pytest.mark.parametrize("text", ["verification", "verifier=2", "verification=0", "verification=7", "enrolment=x"])
def test_a_wrong_replica_setting_is_refused_with_what_is_expected(text: str) -> None:
    with pytest.raises(StackError, match=re.escape("expected <service>=<1..6>")):
        parse_replicas(text)


def test_options_add_to_the_environment_and_win_for_their_service() -> None:
    assert _merged_replicas("verification=2,enrolment=3", ["enrolment=2", "reporting=2"]) == (
        "verification=2,enrolment=2,reporting=2"
    )


@pytest.mark.parametrize("name", ["verification-1", "verifier-2", "verification-", "kafka-2", "../x"])
def test_only_service_names_and_their_replicas_are_instances(name: str) -> None:
    with pytest.raises(StackError):
        parse_instance(name)
    assert parse_instance("notification-4") == ("notification", 4)


def test_down_and_status_find_replicas_started_with_more_than_configured_now(tmp_path: Path) -> None:
    cfg = StackConfig(stack_dir=tmp_path)
    cfg.run_dir.mkdir(parents=True)
    (cfg.run_dir / "enrolment-3.pid").write_text("999999999\n")  # no such process: listed as stopped
    (cfg.run_dir / "kafka-old.pid").write_text("1\n")  # not a service's replica: ignored
    rows = {row.name: row for row in stack.status(cfg)}
    assert "enrolment-3" in rows and not rows["enrolment-3"].running
    assert rows["enrolment-3"].address == "http://127.0.0.1:8203"
    assert "kafka-old" not in rows
