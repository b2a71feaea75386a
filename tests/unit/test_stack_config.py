"""The native stack's settings: a relative stack directory names the same place from every working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.native import postgres
from deploy.native.config import StackConfig, StackTestConfig


@pytest.mark.parametrize("config", [StackConfig, StackTestConfig])
def test_a_relative_stack_dir_is_resolved_once_against_where_it_was_given(
    config: type[StackConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    prefix = "PAYUNG_TEST_" if config is StackTestConfig else "PAYUNG_"
    monkeypatch.setenv(f"{prefix}STACK_DIR", ".stack/bench")
    cfg = config()
    assert cfg.stack_dir == tmp_path / ".stack" / "bench"
    # pg_ctl runs with the PostgreSQL directory as its working directory: a relative -D named nothing there
    assert postgres.data_dir(cfg).is_absolute()
    assert postgres.data_dir(cfg).is_relative_to(tmp_path)
