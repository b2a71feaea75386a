"""The retention settings' bounds: the inbox must outlive every redelivery of an event (shared/retention.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deploy.ops import retention_cli
from services.nomination.settings import NominationSettings
from services.notification.settings import NotificationSettings
from services.verification.settings import VerificationSettings
from shared import retention, topics
from shared.settings import ServiceSettings

REQUIRED = {"database_url": "postgresql://u:p@h/db", "kafka_bootstrap": "k:9092"}


def test_the_inbox_bound_follows_the_topic_retentions() -> None:
    event_days = topics.TopicSpec("x").retention_ms / topics.DAY_MS
    dlq_days = topics.dlq_spec(topics.TopicSpec("x")).retention_ms / topics.DAY_MS
    assert (event_days, dlq_days) == (30, 90)  # shared/topics.py; the bound below moves with them
    assert retention.inbox_minimum_days() == 30 + 90 + 30 + retention.INBOX_MARGIN_DAYS == 157


def test_the_default_inbox_retention_is_above_the_bound() -> None:
    settings = ServiceSettings(**REQUIRED)
    assert settings.retention_inbox_days == 180 >= retention.inbox_minimum_days()
    assert settings.retention_enabled and settings.retention_interval_s == 86400
    assert settings.retention_batch_rows == 5000


@pytest.mark.parametrize("days", [0, 30, 90, 120, 156])
def test_an_inbox_retention_below_the_bound_is_refused_at_startup(days: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYUNG_RETENTION_INBOX_DAYS", str(days))
    with pytest.raises(ValidationError) as refused:
        NominationSettings(**REQUIRED, person_key_secret="s" * 32)
    message = str(refused.value)
    assert f"PAYUNG_RETENTION_INBOX_DAYS={days} is below 157" in message
    assert "applied twice" in message


@pytest.mark.parametrize("days", [157, 365])
def test_an_inbox_retention_at_or_above_the_bound_is_taken(days: int) -> None:
    assert ServiceSettings(**REQUIRED, retention_inbox_days=days).retention_inbox_days == days


@pytest.mark.parametrize(
    ("cls", "bad"),
    [
        (ServiceSettings, {"retention_batch_rows": 0}),
        (ServiceSettings, {"retention_batch_rows": 100_001}),
        (ServiceSettings, {"retention_parked_outbox_days": 0}),
        (VerificationSettings, {"retention_dci_messages_days": 6}),
        (NotificationSettings, {"retention_deliveries_days": 29}),
    ],
)
def test_impossible_retentions_are_refused(cls: type[ServiceSettings], bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        cls(**REQUIRED, **bad)


def test_every_rule_names_a_setting_of_its_service() -> None:
    """A rule whose setting is missing would silently use its default: every one must be a real field."""
    for service in retention_cli._SETTINGS:
        cls = retention_cli.settings_of(service).__class__
        for rule in retention.rules(service):
            assert rule.setting in cls.model_fields, (service, rule.setting)
            assert cls.model_fields[rule.setting].default == rule.default_days, (service, rule.table)


def test_the_cli_reads_the_same_settings_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYUNG_RETENTION_IDEMPOTENCY_KEYS_DAYS", "45")
    assert retention_cli.settings_of("nomination").retention_idempotency_keys_days == 45
    monkeypatch.setenv("PAYUNG_RETENTION_INBOX_DAYS", "100")
    with pytest.raises(ValidationError, match="below 157"):
        retention_cli.settings_of("reporting")
