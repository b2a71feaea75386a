"""What a service's container image holds is enough to start it (the Dockerfile copies shared/, the one service and
every service's topology declaration): found when the notification image failed to start because shared/topology.py
imports every service's declaration."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared.topology import SERVICES

ROOT = Path(__file__).resolve().parents[2]


def _image_tree(tmp: Path, service: str) -> Path:
    """The /app of ``service``'s image, as the Dockerfile's COPY lines build it."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY --from=declarations /out/services ./services" in dockerfile
    assert re.search(r"COPY services/\$\{SERVICE\} \./services/\$\{SERVICE\}", dockerfile)
    app = tmp / "app"
    shutil.copytree(ROOT / "shared", app / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    (app / "services").mkdir()
    shutil.copy(ROOT / "services" / "__init__.py", app / "services" / "__init__.py")
    for declared in (ROOT / "services").glob("*/topology.py"):
        target = app / "services" / declared.parent.name
        target.mkdir()
        shutil.copy(declared.parent / "__init__.py", target / "__init__.py")
        shutil.copy(declared, target / "topology.py")
    shutil.rmtree(app / "services" / service)
    shutil.copytree(
        ROOT / "services" / service, app / "services" / service, ignore=shutil.ignore_patterns("__pycache__")
    )
    return app


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_image_can_import_its_app_and_every_topology(tmp_path: Path, service: str) -> None:
    app = _image_tree(tmp_path, service)
    code = (
        f"import services.{service}.app as a; from shared import topology; "
        "assert set(topology.owners().values()) >= {'nomination', 'verification', 'enrolment', 'notification'}; "
        "print(a.SPEC.name)"
    )
    # -I: isolated (no cwd, no user site, PYTHON* ignored); -S: no site, so not the editable install's .pth that
    # would put this checkout on the path. Only the image tree and the installed packages count.
    env_path = [p for p in sys.path if p.endswith("site-packages")]
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = {[str(app), *env_path]!r}; {code}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == service
