"""Secrets and data at rest on the native stack (issue 11, section 5): what an instance writes to disk is for its
owner only, the controller listener authenticates, and ``./payung up`` says where the API keys are, not what."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from deploy import cli
from deploy.native import apikeys, kafka
from deploy.native.acls import ADMIN_USER
from deploy.native.config import StackConfig


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _props(path: Path) -> dict[str, str]:
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    return dict(ln.split("=", 1) for ln in lines)


@pytest.fixture
def sasl_cfg(tmp_path: Path) -> StackConfig:
    return StackConfig(stack_dir=tmp_path / "stack", kafka_sasl=True, kafka_port=29092, kafka_controller_port=29093)


def test_server_properties_holding_the_admin_password_is_owner_only(sasl_cfg: StackConfig) -> None:
    path = kafka.write_config(sasl_cfg)
    assert kafka.sasl_users(sasl_cfg)[ADMIN_USER] in path.read_text()
    assert _mode(path) == 0o600
    # an existing file with a wider mode (an older version wrote it 0644) is narrowed when rewritten
    path.chmod(0o644)
    kafka.write_config(sasl_cfg)
    assert _mode(path) == 0o600


def test_the_sasl_users_file_is_owner_only(sasl_cfg: StackConfig) -> None:
    kafka.sasl_users(sasl_cfg)
    assert _mode(sasl_cfg.kafka_dir / "sasl-users.json") == 0o600


def test_kafka_directories_are_owner_only(sasl_cfg: StackConfig) -> None:
    kafka.write_config(sasl_cfg)
    assert _mode(sasl_cfg.kafka_dir) == 0o700
    assert _mode(sasl_cfg.kafka_dir / "data") == 0o700


def test_the_controller_listener_authenticates_and_anonymous_is_no_super_user(sasl_cfg: StackConfig) -> None:
    props = _props(kafka.write_config(sasl_cfg))
    protocols = dict(entry.split(":") for entry in props["listener.security.protocol.map"].split(","))
    assert protocols["CONTROLLER"] == "SASL_PLAINTEXT"
    assert props["super.users"].split(";") == [f"User:{ADMIN_USER}"]
    assert "ANONYMOUS" not in props["super.users"]
    assert props["allow.everyone.if.no.acl.found"] == "false"
    # the broker half logs in to its controller with the admin's credentials, the only account the listener knows
    jaas = props["listener.name.controller.plain.sasl.jaas.config"]
    assert f'username="{ADMIN_USER}"' in jaas and f"user_{ADMIN_USER}=" in jaas
    assert jaas.count("user_") == 1


def test_without_sasl_the_config_is_still_owner_only(tmp_path: Path) -> None:
    cfg = StackConfig(stack_dir=tmp_path / "plain")
    assert _mode(kafka.write_config(cfg)) == 0o600


def test_up_prints_where_the_keys_are_not_the_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = StackConfig(stack_dir=tmp_path / "local")
    cli._print_addresses(cfg, with_services=True)
    out = capsys.readouterr().out
    keys = json.loads(apikeys.secrets_file(cfg.stack_dir).read_text())
    assert keys and all(key not in out for key in keys.values())
    assert "api-keys.secret.json" in out
    for account in apikeys.LOCAL_PRINCIPALS:
        assert f"key {account}" in out  # which accounts the file holds, with their role
    assert _mode(apikeys.secrets_file(cfg.stack_dir)) == 0o600


def test_an_existing_keys_file_with_a_wider_mode_is_narrowed(tmp_path: Path) -> None:
    apikeys.ensure_local_keys(tmp_path)
    apikeys.secrets_file(tmp_path).chmod(0o644)
    apikeys.ensure_local_keys(tmp_path)
    assert _mode(apikeys.secrets_file(tmp_path)) == 0o600
