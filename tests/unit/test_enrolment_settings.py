"""Funding sources are configuration: parsed from PAYUNG_FUNDING_SOURCES, with distinct codes and priorities."""

from __future__ import annotations

import orjson
import pytest
from pydantic import ValidationError

from services.enrolment.settings import EnrolmentSettings

REQUIRED = {"PAYUNG_DATABASE_URL": "postgresql://u:p@localhost/db", "PAYUNG_KAFKA_BOOTSTRAP": "localhost:9092"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key, value in REQUIRED.items():
        monkeypatch.setenv(key, value)
    for key in ("PAYUNG_FUNDING_SOURCES", "PAYUNG_PROGRAMME_YEAR", "PAYUNG_HTTP_PORT"):
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_defaults_are_the_local_stack_budget(env: pytest.MonkeyPatch) -> None:
    s = EnrolmentSettings()
    assert s.http_port == 8003
    assert s.programme_year == 2026
    assert [(f.code, f.quota, f.priority, f.premium_idr) for f in s.funding_sources] == [
        ("APBD-KAB", 15000, 1, 16800),
        ("APBD-PROV", 5600, 2, 16800),
    ]


def test_sources_and_year_from_the_environment(env: pytest.MonkeyPatch) -> None:
    sources = [{"code": "APBD-KUTIM", "name": "APBD Kutai Timur", "quota": 150000, "priority": 1, "premium_idr": 16800}]
    env.setenv("PAYUNG_FUNDING_SOURCES", orjson.dumps(sources).decode())
    env.setenv("PAYUNG_PROGRAMME_YEAR", "2027")
    s = EnrolmentSettings()
    assert s.programme_year == 2027
    assert [f.code for f in s.funding_sources] == ["APBD-KUTIM"]


@pytest.mark.parametrize(
    "sources",
    [
        [],
        [{"code": "A", "name": "a", "quota": 1, "priority": 1, "premium_idr": 1}] * 2,  # same code
        [
            {"code": "A", "name": "a", "quota": 1, "priority": 1, "premium_idr": 1},
            {"code": "B", "name": "b", "quota": 1, "priority": 1, "premium_idr": 1},  # same priority
        ],
        [{"code": "A", "name": "a", "quota": -1, "priority": 1, "premium_idr": 1}],
        [{"code": "a b", "name": "a", "quota": 1, "priority": 1, "premium_idr": 1}],
        [{"code": "A", "name": "a", "quota": 1, "priority": 1, "premium_idr": 1, "extra": 1}],
    ],
)
def test_invalid_configurations_are_refused(env: pytest.MonkeyPatch, sources: list[dict[str, object]]) -> None:
    env.setenv("PAYUNG_FUNDING_SOURCES", orjson.dumps(sources).decode())
    with pytest.raises(ValidationError):
        EnrolmentSettings()


def test_the_bpjs_adapter_defaults_to_the_local_issuer_and_http_needs_a_token(env: pytest.MonkeyPatch) -> None:
    assert EnrolmentSettings().bpjs_adapter == "local"
    env.setenv("PAYUNG_BPJS_ADAPTER", "http")
    with pytest.raises(ValidationError, match="PAYUNG_BPJS_TOKEN"):
        EnrolmentSettings()
    env.setenv("PAYUNG_BPJS_TOKEN", "t0ken")
    assert EnrolmentSettings().bpjs_token == "t0ken"
    env.setenv("PAYUNG_BPJS_ADAPTER", "carrier-pigeon")
    with pytest.raises(ValidationError):
        EnrolmentSettings()
