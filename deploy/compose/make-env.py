#!/usr/bin/env python3
"""First run of docker-compose.yml: write .env from .env.example with fresh secrets and one API key per role.

    python3 deploy/compose/make-env.py [--env .env] [--keys payung-api-keys.secret.json] [--nominator-area A]

Standard library only (no virtualenv needed). Refuses to overwrite an existing .env: its person-key secret must
never change. The services receive only the SHA-256 of each API key (PAYUNG_API_KEYS); the keys themselves go to
the --keys file (mode 0600) for the operator to hand out. The same hashing as shared/auth.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY_PREFIX = "pyg_"  # shared.auth.KEY_PREFIX
GENERATED = ("PAYUNG_PG_PASSWORD", "PAYUNG_PERSON_KEY_SECRET", "PAYUNG_WEBHOOK_SECRET", "PAYUNG_API_KEYS")
# RESERVED: per-service event signing keys (issue 11, section 2) are generated here once that lands.


def principals(nominator_area: str) -> dict[str, dict[str, str | None]]:
    return {
        "admin": {"role": "programme_admin", "area": None},
        "verifier": {"role": "verifier", "area": None},
        "auditor": {"role": "auditor", "area": None},
        "nominator": {"role": "nominator", "area": nominator_area},
    }


def make(nominator_area: str) -> tuple[dict[str, str], dict[str, str]]:
    """(generated settings, API keys by account)."""
    keys = {account: KEY_PREFIX + secrets.token_urlsafe(32) for account in principals(nominator_area)}
    hashes = {
        hashlib.sha256(keys[account].encode()).hexdigest(): {"name": f"compose-{account}", **spec}
        for account, spec in principals(nominator_area).items()
    }
    values = {
        "PAYUNG_PG_PASSWORD": secrets.token_urlsafe(24),
        "PAYUNG_PERSON_KEY_SECRET": secrets.token_urlsafe(48),
        "PAYUNG_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "PAYUNG_API_KEYS": json.dumps(hashes, separators=(",", ":")),
    }
    return values, keys


def render(template: str, values: dict[str, str]) -> str:
    lines = []
    for line in template.splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values and "=" in line else line)
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", type=Path, default=ROOT / ".env")
    parser.add_argument("--keys", type=Path, default=ROOT / "payung-api-keys.secret.json")
    parser.add_argument("--template", type=Path, default=ROOT / ".env.example")
    parser.add_argument("--nominator-area", default="64.08.01.2001", help="area of the first nominator key")
    args = parser.parse_args()
    if args.env.exists():
        sys.exit(f"{args.env} exists: not overwritten (its person-key secret must never change)")
    values, keys = make(args.nominator_area)
    _write_private(args.env, render(args.template.read_text(), values))
    if args.keys.exists():
        args.keys.unlink()
    _write_private(args.keys, json.dumps(keys, indent=2) + "\n")
    print(f"wrote {args.env} (0600): fill in the lines marked FILL IN")
    print(f"wrote the API keys to {args.keys} (0600): hand them out, then delete the file")


if __name__ == "__main__":
    main()
