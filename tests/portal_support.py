"""The nomination service's real app for portal tests: real PostgreSQL, the runtime set by hand (no Kafka: the
routes need the pool only), one API key per account of tests/integration/test_nomination_auth.py's kind."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import FastAPI

from services.nomination import bootstrap
from services.nomination.app import create
from services.nomination.settings import NominationSettings
from shared import outbox
from shared.auth import hash_api_key, new_api_key
from shared.service import Runtime
from shared.websession import WebSignInSettings

SENYIUR, KELINJAU_ILIR, JAK_LUAY = "64.08.01.2001", "64.08.01.2002", "64.08.02.2001"
ACCOUNTS: dict[str, dict[str, Any]] = {
    "admin": {"role": "programme_admin"},
    "verifier": {"role": "verifier"},
    "auditor": {"role": "auditor"},
    "desa": {"role": "nominator", "area": SENYIUR},
    "kecamatan": {"role": "nominator", "area": "64.08.01"},
    "elsewhere": {"role": "nominator", "area": JAK_LUAY},
}
KEYS = {account: new_api_key() for account in ACCOUNTS}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def nomination_app(
    pool: asyncpg.Pool,
    extra_keys: dict[str, dict[str, Any]] | None = None,
    web: WebSignInSettings | None = None,
    **overrides: Any,
) -> FastAPI:
    """``extra_keys``: more accounts, as {api key: {"name", "role", "area"}} (e.g. the reviewers of a test)."""
    keys = {hash_api_key(KEYS[a]): {"name": f"acct-{a}", **spec} for a, spec in ACCOUNTS.items()}
    keys |= {hash_api_key(k): spec for k, spec in (extra_keys or {}).items()}
    settings = NominationSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        person_key_secret="integration-secret-0123456789",
        api_keys=keys,
        **overrides,
    )
    app = create(settings, web)
    relay = outbox.OutboxRelay("postgresql://unused/unused", producer=None)  # type: ignore[arg-type]  # never run
    deps = bootstrap.make(pool, settings)
    app.state.runtime = Runtime(settings=settings, pool=pool, relay=relay, broker=None, deps=deps)  # type: ignore[arg-type]
    return app


def nomination_deps(pool: asyncpg.Pool) -> bootstrap.Deps:
    """The service's Deps on ``pool`` with the settings ``nomination_app`` uses, for calling handlers directly."""
    settings = NominationSettings(
        database_url="postgresql://unused/unused",
        kafka_bootstrap="unused:9092",
        person_key_secret="integration-secret-0123456789",
    )
    return bootstrap.make(pool, settings)


def request(nik: str, desa: str, name: str = "Siti Rahmawati") -> dict[str, Any]:
    return {
        "nik": nik,
        "full_name": name,
        "birth_date": "1990-01-05",
        "sex": "F",
        "phone": "081234567890",
        "address": {"kecamatan_code": desa.rsplit(".", 1)[0], "desa_code": desa, "rt": "003", "rw": "002"},
        "occupation": "nelayan",
        "nominator": {"type": "desa", "name": "Kepala Desa", "region_code": desa},
        "supporting_letter": {"number": "140/12/DS/2026", "date": "2026-01-10", "issuer": "Kepala Desa"},
    }
