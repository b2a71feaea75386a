#!/usr/bin/env python3
"""First run of docker-compose.yml: write .env from .env.example with fresh secrets and one API key per role.

    python3 deploy/compose/make-env.py [--env .env] [--keys payung-api-keys.secret.json] [--nominator-area A]

Standard library only (no virtualenv needed). Refuses to overwrite an existing .env: its person-key secret must
never change. The services receive only the SHA-256 of each API key (PAYUNG_API_KEYS); the keys themselves go to
the --keys file (mode 0600) for the operator to hand out. The same hashing as shared/auth.py.

Event signing keys (shared/signing.py, docs/security.md "Authentic events"): one Ed25519 key pair per service that
owns topics, kid ``<service>-<yyyymm>``, as ``PAYUNG_EVENT_SIGNING_KEY_<SERVICE>`` (``<kid>:<base64url raw private
key>``), and every public key in ``PAYUNG_EVENT_TRUSTED_KEYS`` (JSON in single quotes: compose takes it literally).
The keys come from the ``cryptography`` package when this Python has it, else from ``openssl genpkey`` (OpenSSL 1.1.1+).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY_PREFIX = "pyg_"  # shared.auth.KEY_PREFIX
# The services that own topics (shared.topology.owners()' values): each signs its events with its own key.
PRODUCERS = ("nomination", "verification", "enrolment", "notification", "reporting")
GENERATED = (
    "PAYUNG_PG_PASSWORD",
    "PAYUNG_PERSON_KEY_SECRET",
    "PAYUNG_WEBHOOK_SECRET",
    "PAYUNG_API_KEYS",
    *(f"PAYUNG_EVENT_SIGNING_KEY_{p.upper()}" for p in PRODUCERS),
    "PAYUNG_EVENT_TRUSTED_KEYS",
)
# DER prefixes of an Ed25519 key as `openssl genpkey`/`pkey -pubout` write it (RFC 8410): PKCS#8 and SPKI.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


def principals(nominator_area: str) -> dict[str, dict[str, str | None]]:
    return {
        "admin": {"role": "programme_admin", "area": None},
        "verifier": {"role": "verifier", "area": None},
        "auditor": {"role": "auditor", "area": None},
        "nominator": {"role": "nominator", "area": nominator_area},
    }


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def ed25519_keypair(use_openssl: bool = False) -> tuple[bytes, bytes]:
    """(raw 32-byte private key, raw 32-byte public key) of a new Ed25519 key pair."""
    if not use_openssl:
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
        except ImportError:
            pass
        else:
            key = Ed25519PrivateKey.generate()
            private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            return private, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    openssl = shutil.which("openssl")
    if openssl is None:
        sys.exit("event signing keys need the Python package cryptography or the openssl command; neither found")
    # Fixed arguments, no shell: nothing of the caller's reaches the command line.
    genpkey = [openssl, "genpkey", "-algorithm", "ed25519", "-outform", "DER"]
    der = subprocess.run(genpkey, capture_output=True, check=True).stdout  # noqa: S603
    pubout = [openssl, "pkey", "-inform", "DER", "-pubout", "-outform", "DER"]
    public = subprocess.run(pubout, input=der, capture_output=True, check=True).stdout  # noqa: S603
    if len(der) != 48 or not der.startswith(_PKCS8_PREFIX) or len(public) != 44 or not public.startswith(_SPKI_PREFIX):
        sys.exit("openssl did not write an Ed25519 key in the expected DER form")
    return der[len(_PKCS8_PREFIX) :], public[len(_SPKI_PREFIX) :]


def event_keys(month: str, use_openssl: bool = False) -> dict[str, str]:
    """PAYUNG_EVENT_SIGNING_KEY_<SERVICE> per producer and PAYUNG_EVENT_TRUSTED_KEYS (JSON of every public key)."""
    values, trusted = {}, {}
    for producer in PRODUCERS:
        kid = f"{producer}-{month}"
        private, public = ed25519_keypair(use_openssl)
        values[f"PAYUNG_EVENT_SIGNING_KEY_{producer.upper()}"] = f"{kid}:{_b64(private)}"
        trusted[kid] = {"producer": producer, "public_key": _b64(public)}
    # Single quotes: compose's .env parser then takes the JSON literally (no interpolation, no comments).
    values["PAYUNG_EVENT_TRUSTED_KEYS"] = "'" + json.dumps(trusted, separators=(",", ":")) + "'"
    return values


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
        **event_keys(time.strftime("%Y%m", time.gmtime())),
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
