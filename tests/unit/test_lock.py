"""The hashed lock files (deploy/lock.py) must say what pyproject.toml says."""

from __future__ import annotations

from pathlib import Path

from deploy import lock


def test_the_committed_lock_files_match_pyproject() -> None:
    assert lock.problems() == [], "run `.venv/bin/python -m deploy.lock`"


def _copy(tmp_path: Path, pyproject_text: str) -> tuple[Path, Path, Path]:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject_text)
    runtime, dev = tmp_path / "requirements.lock", tmp_path / "requirements-dev.lock"
    runtime.write_text(lock.RUNTIME_LOCK.read_text())
    dev.write_text(lock.DEV_LOCK.read_text())
    return pyproject, runtime, dev


def test_a_new_dependency_without_a_new_lock_is_caught(tmp_path: Path) -> None:
    text = lock.PYPROJECT.read_text().replace('"openpyxl==3.1.5",', '"openpyxl==3.1.5",\n    "limits==5.6.0",')
    problems = lock.problems(*_copy(tmp_path, text))
    assert any("was not made from this pyproject.toml" in p for p in problems)
    assert any("lacks limits==5.6.0" in p for p in problems)


def test_a_changed_pin_is_caught(tmp_path: Path) -> None:
    text = lock.PYPROJECT.read_text().replace('"httpx==0.28.1"', '"httpx==0.28.0"')
    problems = lock.problems(*_copy(tmp_path, text))
    assert any("lacks httpx==0.28.0" in p for p in problems)


def test_an_unpinned_requirement_is_refused(tmp_path: Path) -> None:
    text = lock.PYPROJECT.read_text().replace('"httpx==0.28.1"', '"httpx>=0.28"')
    assert any("not pinned" in p for p in lock.problems(*_copy(tmp_path, text)))


def test_the_lock_files_carry_hashes_for_every_package() -> None:
    for path in (lock.RUNTIME_LOCK, lock.DEV_LOCK):
        blocks = [b for b in path.read_text().split("\n") if lock._PIN.match(b)]
        text = path.read_text()
        assert blocks and text.count("==") >= len(blocks)
        for name_line in blocks:
            after = text.split(name_line, 1)[1].split("\n", 2)
            assert "--hash=sha256:" in after[1], name_line
