"""The test instance that ``./payung test`` started is laid out as every native instance is: Kafka's and
PostgreSQL's directories (every event and every row, personal data included) are for their owner only, and
PostgreSQL's belong to the unprivileged account it runs as."""

from __future__ import annotations

import os
import pwd
import stat

import pytest

from deploy.native import postgres
from deploy.native.config import StackTestConfig

pytestmark = pytest.mark.integration


def _mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(path.stat().st_mode)


def test_kafka_directories_are_owner_only() -> None:
    cfg = StackTestConfig()
    assert _mode(cfg.kafka_dir) == 0o700
    assert _mode(cfg.kafka_dir / "data") == 0o700
    assert _mode(cfg.kafka_dir / "server.properties") == 0o600


def test_postgres_directories_are_owner_only_and_owned_by_the_server_account() -> None:
    cfg = StackTestConfig()
    data = postgres.data_dir(cfg)
    assert _mode(cfg.pg_dir) == 0o700
    assert _mode(data) == 0o700
    if os.geteuid() == 0:  # the server runs as payung-pg: it, not root, owns its files
        owner = pwd.getpwnam(postgres.SYSTEM_USER).pw_uid
        assert cfg.pg_dir.stat().st_uid == owner
        assert data.stat().st_uid == owner
    assert _mode(cfg.pg_dir / "superuser-password") == 0o600
