"""Every ``# type: ignore`` in the type-checked code names its error code and says why on the same line.

mypy itself refuses a bare ignore (``ignore-without-code``) and an unneeded one (``warn_unused_ignores``); the reason
is this project's rule (docs/architecture.md, "Checks"), which mypy cannot hold anyone to, so this test does.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MYPY = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
_IGNORE = re.compile(r"#\s*type:\s*ignore")
# the code(s) in brackets, then a comment of its own with a reason of a few characters at least
_WITH_REASON = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S.{4,}$")


def unexplained(text: str) -> list[int]:
    """The line numbers of the ignores in ``text`` that lack a code or a reason."""
    lines = text.splitlines()
    return [n for n, line in enumerate(lines, 1) if _IGNORE.search(line) and not _WITH_REASON.search(line)]


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    files = sorted(path for folder in MYPY["files"] for path in (ROOT / folder).rglob("*.py"))
    assert files
    found = [f"{p.relative_to(ROOT)}:{n}" for p in files for n in unexplained(p.read_text(encoding="utf-8"))]
    assert found == []


def test_a_bare_or_unexplained_ignore_is_found() -> None:
    text = (
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[arg-type]\n"
        "c = f()  # type: ignore[arg-type]  # the stub says int, the library takes str too\n"
        "d = f()\n"
    )
    assert unexplained(text) == [1, 2]


def test_strict_mode_covers_shared_services_and_deploy() -> None:
    assert MYPY["strict"] is True
    assert {"shared", "services", "deploy"} <= set(MYPY["files"])
