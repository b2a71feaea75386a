import json

import pytest
from pydantic import ValidationError

from services.verification.app import SPEC
from services.verification.bootstrap import policy
from services.verification.settings import VerificationSettings
from shared import dci

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
    assert sorted(p.name for p in SPEC.migrations.glob("*.sql")) == [
        "0001.verification-schema.sql",
        "0002.verification-layers.sql",
        "0003.verification-ended.sql",
        "0004.verification-dci.sql",
        "0005.verification-review-version.sql",
        "0006.verification-retention-indexes.sql",
        "0007.verification-objections.rollback.sql",
        "0007.verification-objections.sql",
    ]
    assert SPEC.bootstrap is not None  # the registry adapter, in Deps
    assert set(SPEC.event_handlers) == {"nomination.submitted", "enrolment.ended", "objection.filed"}
    assert set(SPEC.prepare) == {"nomination.submitted"}  # the registry asked before the transaction
    paths = {route.path for router in SPEC.routers for route in router.routes}
    public = {route.path for router in SPEC.public_routers for route in router.routes}
    dci = {"/dci/registry/on-search", "/dci/registry/on-subscribe", "/dci/registry/notify"}
    # the reviewer's workspace: pages guarded by shared.websession.page_guard (docs/portal.md)
    workspace = {"/ruang-kerja", "/ruang-kerja/{review_id}", "/ruang-kerja/{review_id}/keputusan"}
    objections = "/ruang-kerja/sanggahan"
    workspace |= {objections, f"{objections}/{{objection_id}}", f"{objections}/{{objection_id}}/bukti/{{position}}"}
    workspace |= {f"{objections}/{{objection_id}}/ambil", f"{objections}/{{objection_id}}/keputusan"}
    assert public == dci | workspace | {"/ruang-kerja/static/workspace.css"}
    assert paths == {
        "/v1/verifications/{nomination_id}",
        "/v1/registry/snapshots",
        "/v1/reviews",
        "/v1/reviews/{review_id}",
        "/v1/reviews/{review_id}/decision",
        "/v1/objections",
        "/v1/objections/{objection_id}",
        "/v1/objections/{objection_id}/evidence/{position}",
        "/v1/objections/{objection_id}/take-up",
        "/v1/objections/{objection_id}/decision",
    }


def test_the_adapter_is_chosen_by_setting_and_http_needs_its_address(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    assert VerificationSettings().registry_adapter == "snapshot"
    monkeypatch.setenv("PAYUNG_REGISTRY_ADAPTER", "http")
    with pytest.raises(ValidationError):
        VerificationSettings()
    monkeypatch.setenv("PAYUNG_REGISTRY_URL", "http://127.0.0.1:8090")
    monkeypatch.setenv("PAYUNG_REGISTRY_USER", "payung")
    monkeypatch.setenv("PAYUNG_INFORMAL_OCCUPATIONS", '["nelayan"]')
    settings = VerificationSettings()
    assert settings.registry_adapter == "http"
    assert policy(settings).informal_occupations == frozenset({"nelayan"})


def test_the_dci_adapter_needs_its_address_its_key_the_registry_keys_and_a_callback_base(monkeypatch):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAYUNG_REGISTRY_ADAPTER", "dci")
    seed, public = dci.new_keypair()
    for name, value in [
        ("PAYUNG_DCI_URL", "http://127.0.0.1:8091"),
        ("PAYUNG_DCI_SIGNING_KEY", seed),
        ("PAYUNG_DCI_REGISTRY_KEYS", json.dumps({"civilregistry|1|ed25519": public})),
    ]:
        with pytest.raises(ValidationError):
            VerificationSettings()
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match="dci_callback_base"):
        VerificationSettings()
    monkeypatch.setenv("PAYUNG_DCI_MODE", "sync")
    settings = VerificationSettings()
    assert settings.registry_adapter == "dci" and settings.dci_signing_key.get_secret_value() == seed
    assert seed not in repr(settings)
