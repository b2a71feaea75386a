"""Fixtures of the browser tests: the test instance's Keycloak, axe-core, Chromium.

Keycloak is started here, lazily, by the first test that needs it, and stopped at the end of the session: it takes
about a minute and 500 MB, which only these tests should pay (``./payung test`` without tests/browser never starts
it; ``./payung test`` stops a leftover one with the rest of the test infrastructure). axe-core comes from npm, pinned
by package-lock.json, installed into node_modules/ (git-ignored) with ``npm ci`` when missing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import keycloak
from deploy.config import REPO_ROOT, StackTestConfig

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def idp() -> Iterator[StackTestConfig]:
    """The test instance's Keycloak with the payung realm; its config (ports, people.secret.json) for the tests."""
    cfg = StackTestConfig()
    t0 = time.monotonic()
    pid = keycloak.start(cfg)
    keycloak.wait_ready(cfg, pid)
    print(f"\nkeycloak ready in {time.monotonic() - t0:.1f} s")
    try:
        yield cfg
    finally:
        keycloak.stop(cfg)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing: apt-get install -y npm (axe-core checks the pages' accessibility)")
        subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=REPO_ROOT, check=True)
    return AXE.read_text()


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/ensure-chromium.sh`", pytrace=False)
    return CHROMIUM
