"""API keys of a local stack instance: made once per stack directory, never committed.

``api-keys.json`` holds what the services read (``PAYUNG_API_KEYS_FILE``): the SHA-256 of each key and its
principal. ``api-keys.secret.json`` (mode 0600) holds the keys themselves, for the developer, the demo and the
end-to-end tests to send. A deployment makes its keys the same way (``shared.auth.new_api_key``/``hash_api_key``)
or uses its identity provider's tokens (``PAYUNG_JWT_*``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from shared.auth import Role, hash_api_key, new_api_key

# One key per role; the sample nominator is an official of desa Senyiur (kecamatan Muara Ancalong, Kutai Timur).
LOCAL_PRINCIPALS: dict[str, dict[str, str | None]] = {
    "admin": {"role": Role.PROGRAMME_ADMIN, "area": None},
    "verifier": {"role": Role.VERIFIER, "area": None},
    "auditor": {"role": Role.AUDITOR, "area": None},
    "nominator": {"role": Role.NOMINATOR, "area": "64.08.01.2001"},
    "partner": {"role": Role.PARTNER_AGENCY, "area": None},  # another agency's system: the enrolment check only
}


def hashes_file(stack_dir: Path) -> Path:
    return stack_dir / "api-keys.json"


def secrets_file(stack_dir: Path) -> Path:
    return stack_dir / "api-keys.secret.json"


def ensure_local_keys(stack_dir: Path) -> dict[str, str]:
    """The instance's keys by account name (``admin``, ``verifier``, ``auditor``, ``nominator``), made on first use."""
    secret, hashed = secrets_file(stack_dir), hashes_file(stack_dir)
    if secret.exists() and hashed.exists():
        secret.chmod(0o600)  # a file from an older version, or copied with a wider mode
        stored: dict[str, str] = json.loads(secret.read_text())
        return stored
    stack_dir.mkdir(parents=True, exist_ok=True)
    keys = {account: new_api_key() for account in LOCAL_PRINCIPALS}
    # 0600 from the first byte: created with that mode, and narrowed if an older file was wider.
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(keys, indent=2))
    config = {
        hash_api_key(keys[account]): {"name": f"local-{account}", "role": str(spec["role"]), "area": spec["area"]}
        for account, spec in LOCAL_PRINCIPALS.items()
    }
    hashed.write_text(json.dumps(config, indent=2))
    return keys


def describe(stack_dir: Path) -> list[tuple[str, str]]:
    """(account, "role, area") rows for ``./payung up`` to print: which keys the keys file holds, never a key
    (a terminal's scrollback, a CI log or a shared screen is no place for a credential)."""
    ensure_local_keys(stack_dir)
    rows = []
    for account, spec in LOCAL_PRINCIPALS.items():
        scope = f"area {spec['area']}" if spec["area"] else "whole programme"
        rows.append((f"key {account}", f"{spec['role']}, {scope}"))
    return rows
