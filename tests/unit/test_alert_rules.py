"""The shipped Prometheus alert rules name only metrics that shared/metrics.py really exposes."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import Metric

from shared import metrics

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
_METRIC = re.compile(r"\bpayung_[a-z0-9_]+\b")
_SUFFIXES = ("", "_total", "_created", "_bucket", "_count", "_sum")


def exposed_names() -> set[str]:
    """Every sample name the metrics of shared/metrics.py can expose."""
    names: set[str] = set()
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if callable(describe) and hasattr(value, "_name"):
            families: list[Metric] = describe()
            names |= {family.name + suffix for family in families for suffix in _SUFFIXES}
    return names


def test_every_rule_names_an_existing_metric() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert {r["alert"] for r in rules} >= {
        "PayungConsumerStalled",
        "PayungRelayStalled",
        "PayungOutboxRowsParked",
        "PayungDeadLettersGrowing",
    }
    exposed = exposed_names()
    for rule in rules:
        named = set(_METRIC.findall(rule["expr"]))
        assert named, f"{rule['alert']}: its expression names no payung metric"
        assert named <= exposed, f"{rule['alert']}: unknown metrics {sorted(named - exposed)}"


def test_the_checker_knows_a_wrong_name_when_it_sees_one() -> None:
    exposed = exposed_names()
    assert "payung_dead_letters_total" in exposed and "payung_consumer_stalled" in exposed
    assert "payung_consumer_stall" not in exposed and "payung_dead_letters_totals" not in exposed
