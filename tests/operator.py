"""One programme-admin key for tests that mount a service's routers on a bare FastAPI app: the routes that audit
their caller need an authenticated principal (``shared.auth.principal``)."""

from __future__ import annotations

from typing import Any

from shared.auth import ApiKeyStore, Authenticator, hash_api_key, new_api_key

OPERATOR = "operator-1"
OPERATOR_KEY = new_api_key()
OPERATOR_HEADERS = {"X-API-Key": OPERATOR_KEY}


def authenticate_operator(app: Any) -> dict[str, str]:
    """Let ``app`` know the operator's key; returns the headers that carry it."""
    store = ApiKeyStore.from_config({hash_api_key(OPERATOR_KEY): {"name": OPERATOR, "role": "programme_admin"}})
    app.state.authenticator = Authenticator(store)
    return OPERATOR_HEADERS
