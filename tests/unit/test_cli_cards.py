"""``payung cards DESA_CODE --out FILE.pdf``: a malformed desa code is refused before any request, nothing written."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from deploy.cli import app


def test_a_malformed_desa_code_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    out = tmp_path / "kartu.pdf"
    runner = CliRunner()
    for bad in ("64.08.01", "64.08.01.2001/../x", "abc"):
        result = runner.invoke(app, ["cards", bad, "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert not out.exists()
    assert "cards" in runner.invoke(app, ["--help"]).output
