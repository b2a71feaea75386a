"""Browser test fixtures: Debian's Chromium, axe-core from tests/browser/node_modules, a service in this loop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = HERE.parents[1] / "test-artifacts"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash deploy/ensure-chromium.sh`", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core, installed from the committed lock file (npm ci) into a git-ignored node_modules."""
    if not AXE.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)
    return AXE.read_text()


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
