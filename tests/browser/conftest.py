"""Fixtures of the browser tests: the test instance's Keycloak, axe-core, Chromium.

Keycloak is started here, lazily, by the first test that needs it, and stopped at the end of the session: it takes
about a minute and 500 MB, which only these tests should pay (``./payung test`` without tests/browser never starts
it; ``./payung test`` stops a leftover one with the rest of the test infrastructure). axe-core comes from npm, pinned
by package-lock.json, installed into node_modules/ (git-ignored) with ``npm ci`` when missing.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from deploy.native import keycloak
from deploy.native.config import REPO_ROOT, StackTestConfig

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
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/ensure-chromium.sh`", pytrace=False)
    return CHROMIUM


# ------------------------------------------------------------------ the portal's and the workspace's tests
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Any], Any]]:
    """Serve an ASGI app (its runtime set by hand, so lifespan off) on a free port; gives its base URL."""
    servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
        task = asyncio.create_task(server.serve())
        servers.append((server, task))
        for _ in range(600):
            if server.started:
                return f"http://127.0.0.1:{port}"
            await asyncio.sleep(0.05)
        raise AssertionError("the service did not start")

    yield start
    for server, task in servers:
        server.should_exit = True
        await task


async def check_axe(page: Any, axe_source: str, name: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    # evaluated by the DevTools protocol, not as an inline script: the pages' CSP (script-src 'self') stays on
    await page.evaluate(axe_source + "\n;true")
    result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{name}: {bad}"
