"""The container check's traffic: nominations through the running compose stack, and what must survive a restart.

    python -m deploy.containers.flow registry DIR            a small synthetic civil registry (DIR/registry.csv)
    python -m deploy.containers.flow submit DIR STATE N      submit N nominations that must be enrolled, wait until
                                                             every one reads "notified"; add them to STATE (JSON)
    python -m deploy.containers.flow verify STATE            after `down` + `up`: every nomination of STATE is still
                                                             there and "notified"

Called by deploy/containers/check.sh with PAYUNG_API_KEY (an admin key) and PAYUNG_NOMINATION_URL set.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx

from tools.synthetic import generate_nominations, generate_registry, write_registry

REGENCY = "64.08"
PEOPLE = 400
TIMEOUT_S = float(os.environ.get("PAYUNG_FLOW_TIMEOUT_S", "240"))
_KEYS = uuid.UUID("3f1c5b8e-1d7a-4a3e-9a55-434f4e544149")


def _client() -> httpx.Client:
    return httpx.Client(
        base_url=os.environ["PAYUNG_NOMINATION_URL"], headers={"X-API-Key": os.environ["PAYUNG_API_KEY"]}, timeout=30
    )


def registry(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_registry(generate_registry(PEOPLE, seed=42, regency=REGENCY), directory / "registry.csv")


def _wait_notified(client: httpx.Client, ids: list[str]) -> dict[str, list[str]]:
    deadline = time.monotonic() + TIMEOUT_S
    histories: dict[str, list[str]] = {}
    while True:
        pending = []
        for nomination_id in ids:
            view = client.get(f"/v1/nominations/{nomination_id}")
            view.raise_for_status()
            body = view.json()
            histories[nomination_id] = [str(h.get("stage")) for h in body.get("history", [])]
            if body["status"] != "notified":
                pending.append((nomination_id, body["status"]))
        if not pending:
            return histories
        if time.monotonic() > deadline:
            sys.exit(f"flow: not notified within {TIMEOUT_S:.0f} s: {pending}")
        time.sleep(1)


def submit(directory: Path, state_file: Path, count: int) -> None:
    state = json.loads(state_file.read_text()) if state_file.exists() else {"nominations": []}
    done = len(state["nominations"])
    items = [n for n in generate_nominations(directory / "registry.csv", 200, seed=11, regency=REGENCY)]
    fresh = [n for n in items if n.fault == "none" and n.expected.startswith("accepted")][done : done + count]
    if len(fresh) < count:
        sys.exit("flow: not enough clean synthetic nominations")
    ids = []
    t0 = time.monotonic()
    with _client() as client:
        for index, item in enumerate(fresh, start=done):
            key = str(uuid.uuid5(_KEYS, f"container-check-{index}"))
            answer = client.post("/v1/nominations", json=item.request, headers={"Idempotency-Key": key})
            if answer.status_code != 202:
                sys.exit(f"flow: POST /v1/nominations answered {answer.status_code}: {answer.text[:300]}")
            ids.append(answer.json()["nomination_id"])
        histories = _wait_notified(client, ids)
    state["nominations"] += ids
    state_file.write_text(json.dumps(state, indent=2))
    print(f"    {count} nomination(s) notified in {time.monotonic() - t0:.1f} s; history {histories[ids[0]]}")


def verify(state_file: Path) -> None:
    ids = json.loads(state_file.read_text())["nominations"]
    with _client() as client:
        for nomination_id in ids:
            view = client.get(f"/v1/nominations/{nomination_id}")
            if view.status_code != 200 or view.json()["status"] != "notified":
                sys.exit(f"flow: after the restart nomination {nomination_id} answered {view.status_code}")
    print(f"    all {len(ids)} nomination(s) still there and notified")


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "registry":
        registry(Path(args[0]))
    elif command == "submit":
        submit(Path(args[0]), Path(args[1]), int(args[2]))
    elif command == "verify":
        verify(Path(args[0]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
