import pytest
from pydantic import ValidationError

from services.verification.app import SPEC, policy
from services.verification.settings import VerificationSettings

REQUIRED = {"PAYUNG_DATABASE_URL": "postgresql://u:p@h/db", "PAYUNG_KAFKA_BOOTSTRAP": "k:9092"}


def test_defaults_are_the_programme_defaults(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    settings = VerificationSettings()
    assert (settings.http_port, settings.name_match_threshold, settings.min_age, settings.max_age) == (8002, 80, 18, 65)
    assert settings.region_data_file.exists()


def test_thresholds_and_ages_come_from_the_environment(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYUNG_NAME_MATCH_THRESHOLD", "85.5")
    monkeypatch.setenv("PAYUNG_MIN_AGE", "17")
    monkeypatch.setenv("PAYUNG_MAX_AGE", "70")
    rules = policy(VerificationSettings())
    assert (rules.name_match_threshold, rules.min_age, rules.max_age) == (85.5, 17, 70)


@pytest.mark.parametrize(
    "bad", [{"min_age": 66, "max_age": 65}, {"name_match_threshold": 101}, {"name_match_threshold": -1}]
)
def test_impossible_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        VerificationSettings(database_url="postgresql://u:p@h/db", kafka_bootstrap="k:9092", **bad)


def test_the_service_is_described_for_the_shared_runtime():
    assert SPEC.name == "verification" and SPEC.settings_cls is VerificationSettings
    assert sorted(p.name for p in SPEC.migrations.glob("*.sql")) == ["0001.verification-schema.sql"]
    paths = {route.path for router in SPEC.routers for route in router.routes}
    assert paths == {"/v1/verifications/{nomination_id}", "/v1/registry/snapshots"}
