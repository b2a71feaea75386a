"""Who is calling: API keys or OIDC/JWT bearer tokens, roles, and the area a principal may see.

Every HTTP route of a service (except health, metrics and the API docs) requires a principal; ``shared.service``
installs the check centrally, with per-route role rules from ``ServiceSpec.route_roles``. A route that is not in
that table gets the fail-closed default: reads (GET/HEAD) for verifiers, programme admins and auditors, anything
else for programme admins only. Nominators reach only routes that list them explicitly, because only such a route
can apply their area (``Principal.covers``) to what it returns.

API keys are random 256-bit tokens (``new_api_key``); deployments configure only their SHA-256 (``hash_api_key``),
so a leaked configuration is not a usable credential. An unsalted fast hash is right here: the input is a random
token, not a password a dictionary could guess. JWTs are verified against a configured public key or JWKS file,
with asymmetric algorithms only (no ``none``, no HMAC: a public key must never double as a shared secret).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shared.errors import PayungError


class Role(StrEnum):
    NOMINATOR = "nominator"  # RT/desa/Disnaker officials: submit and follow nominations of their own area
    VERIFIER = "verifier"  # Disnaker verification staff: read everything, review queue
    PROGRAMME_ADMIN = "programme_admin"  # Disnaker programme staff: everything, including operations
    AUDITOR = "auditor"  # read-only, everything
    PARTNER_AGENCY = "partner_agency"  # another programme's system: only the routes naming it (the enrolment check)
    SYSTEM = "system"  # a service acting on its own (consumers); never granted to a key or a token


GRANTABLE = frozenset(Role) - {Role.SYSTEM}
READERS = frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN, Role.AUDITOR})
ADMINS = frozenset({Role.PROGRAMME_ADMIN})
EVERYONE = GRANTABLE
JWT_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
KEY_PREFIX = "pyg_"
_AREA = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AuthError(PayungError):
    """401 (no or bad credentials) or 403 (authenticated, not allowed)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def in_area(area: str, region_code: str) -> bool:
    """Whether ``region_code`` (dotted, e.g. a desa ``64.08.01.2001``) lies in ``area`` (a desa, kecamatan,
    regency or province code): equal, or a descendant. ``64.08.01`` covers ``64.08.01.2001`` but not ``64.08.011``."""
    return region_code == area or region_code.startswith(area + ".")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``name`` identifies it in audit rows (no personal data: use an account id)."""

    name: str
    role: Role
    area: str | None = None  # dotted region code; None: the whole programme

    def __post_init__(self) -> None:
        if self.area is not None and not _AREA.match(self.area):
            raise ValueError(f"area {self.area!r} is not a dotted region code")
        if self.role is Role.NOMINATOR and self.area is None:
            raise ValueError(f"nominator {self.name!r} has no area")

    def covers(self, region_code: str) -> bool:
        return self.area is None or in_area(self.area, region_code)


def system(service: str) -> Principal:
    """The principal of a service's own decisions (consumers), for audit rows."""
    return Principal(name=f"system:{service}", role=Role.SYSTEM)


def principal_from_claims(name: str, role: Any, area: Any) -> Principal:
    """A principal from configuration or token claims, or ValueError (unknown role, SYSTEM, bad area)."""
    try:
        granted = Role(role)
    except ValueError:
        raise ValueError(f"unknown role {role!r}") from None
    if granted not in GRANTABLE:
        raise ValueError(f"role {role!r} cannot be granted")
    if area is not None and not isinstance(area, str):
        raise ValueError("area must be a string")
    return Principal(name=name, role=granted, area=area or None)


# ------------------------------------------------------------------------------------------------- API keys
def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKeyStore:
    """Configured keys: SHA-256 hex of the key -> principal."""

    def __init__(self, entries: Mapping[str, Principal]) -> None:
        self._by_hash = dict(entries)

    @classmethod
    def from_config(cls, config: Mapping[str, Mapping[str, Any]]) -> ApiKeyStore:
        """``{"<sha256 hex>": {"name": ..., "role": ..., "area": ...}}``; a plaintext key is refused."""
        entries = {}
        for digest, spec in config.items():
            if not _SHA256_HEX.match(digest):
                raise ValueError("API keys are configured by their SHA-256 (64 lowercase hex), never in clear")
            entries[digest] = principal_from_claims(spec["name"], spec.get("role"), spec.get("area"))
        return cls(entries)

    def verify(self, key: str) -> Principal | None:
        return self._by_hash.get(hash_api_key(key))

    def __len__(self) -> int:
        return len(self._by_hash)


# ------------------------------------------------------------------------------------------------------ JWT
class JwtVerifier:
    """Bearer tokens from the regency's identity provider: signature, expiry, issuer, audience, then claims."""

    def __init__(
        self,
        keys: Mapping[str | None, Any],
        *,
        algorithms: Collection[str],
        issuer: str,
        audience: str,
        role_claim: str = "payung_role",
        area_claim: str = "payung_area",
    ) -> None:
        if not issuer or not audience:
            # Without both, a token the same identity provider issued for another application (or another
            # provider's token signed with a shared key) would be accepted here.
            raise ValueError(
                "JWT bearer tokens need an issuer and an audience (PAYUNG_JWT_ISSUER, PAYUNG_JWT_AUDIENCE)"
            )
        unsafe = set(algorithms) - JWT_ALGORITHMS
        if unsafe or not algorithms:
            raise ValueError(f"JWT algorithms must be asymmetric ones of {sorted(JWT_ALGORITHMS)}; got {unsafe}")
        self._keys = dict(keys)  # kid (None for a single configured key) -> public key
        self._algorithms = sorted(algorithms)
        self._issuer, self._audience = issuer, audience
        self._role_claim, self._area_claim = role_claim, area_claim

    @classmethod
    def from_public_key(cls, pem: str, **options: Any) -> JwtVerifier:
        return cls({None: pem}, **options)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any], **options: Any) -> JwtVerifier:
        keyset = jwt.PyJWKSet.from_dict(dict(jwks))
        return cls({k.key_id: k.key for k in keyset.keys}, **options)

    def verify(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if kid in self._keys else self._keys.get(None)
            if key is None:
                raise AuthError(401, "UNAUTHENTICATED", "token signed with an unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except (jwt.PyJWTError, TypeError, ValueError) as exc:  # TypeError: the key does not fit the token's alg
            raise AuthError(401, "UNAUTHENTICATED", f"invalid token: {type(exc).__name__}") from None
        try:
            return principal_from_claims(claims["sub"], claims.get(self._role_claim), claims.get(self._area_claim))
        except ValueError as exc:
            raise AuthError(403, "FORBIDDEN", f"token claims: {exc}") from None


# ---------------------------------------------------------------------------------------------- the whole
class Authenticator:
    """API keys (``X-API-Key`` or ``Authorization: Bearer pyg_...``) and, if configured, JWT bearer tokens."""

    def __init__(self, api_keys: ApiKeyStore, jwt_verifier: JwtVerifier | None = None) -> None:
        self.api_keys = api_keys
        self.jwt = jwt_verifier

    @classmethod
    def from_settings(cls, settings: Any) -> Authenticator:
        """From ``ServiceSettings``' ``api_keys``/``api_keys_file`` and ``jwt_*`` fields (see shared/settings.py)."""
        config = dict(settings.api_keys)
        if settings.api_keys_file is not None:
            config.update(json.loads(Path(settings.api_keys_file).read_text()))
        options = {
            "algorithms": settings.jwt_algorithms,
            "issuer": settings.jwt_issuer,
            "audience": settings.jwt_audience,
            "role_claim": settings.jwt_role_claim,
            "area_claim": settings.jwt_area_claim,
        }
        verifier = None
        if settings.jwt_jwks_file is not None:
            verifier = JwtVerifier.from_jwks(json.loads(Path(settings.jwt_jwks_file).read_text()), **options)
        elif settings.jwt_public_key_file is not None:
            verifier = JwtVerifier.from_public_key(Path(settings.jwt_public_key_file).read_text(), **options)
        return cls(ApiKeyStore.from_config(config), verifier)

    def authenticate(self, api_key: str | None, bearer: str | None) -> Principal:
        if api_key is None and bearer is not None and bearer.startswith(KEY_PREFIX):
            api_key, bearer = bearer, None
        if api_key is not None:
            principal = self.api_keys.verify(api_key)
            if principal is None:
                raise AuthError(401, "UNAUTHENTICATED", "unknown API key")
            return principal
        if bearer is not None:
            if self.jwt is None:
                raise AuthError(401, "UNAUTHENTICATED", "bearer tokens are not accepted here; use an API key")
            return self.jwt.verify(bearer)
        raise AuthError(401, "UNAUTHENTICATED", "send an X-API-Key header or an Authorization: Bearer token")


# ----------------------------------------------------------------------------------------------- FastAPI
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)
_bearer = HTTPBearer(auto_error=False)


async def principal(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """FastAPI dependency: the caller (authenticated once per request), or 401."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    found = authenticator.authenticate(api_key, bearer.credentials if bearer is not None else None)
    request.state.principal = found
    return found


def default_roles(method: str) -> frozenset[Role]:
    return READERS if method in ("GET", "HEAD") else ADMINS


def route_key(method: str, path: str) -> str:
    return f"{method} {path}"


def route_guard(route_roles: Mapping[str, Collection[str]]) -> Any:
    """A dependency for every service route: authenticate, then check the role against the route's rule.

    ``route_roles`` maps ``"METHOD /path/{template}"`` to the roles allowed; other routes get ``default_roles``.
    """
    rules = {key: frozenset(Role(r) for r in roles) for key, roles in route_roles.items()}

    async def guard(request: Request, caller: Annotated[Principal, Depends(principal)]) -> None:
        route = request.scope.get("route")
        path = getattr(route, "path", request.url.path)
        allowed = rules.get(route_key(request.method, path), default_roles(request.method))
        if caller.role not in allowed:
            raise AuthError(403, "FORBIDDEN", f"role {caller.role} may not {request.method} {path}")

    return guard


# ------------------------------------------------------------------------------- claims of people's tokens
def _single(value: Any, what: str) -> Any:
    """Providers send an attribute as a string or a one-element list (Keycloak's multivalued mappers)."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"{what} claim must hold one value, not {len(value)}")
        return value[0]
    return value


def principal_from_token_claims(
    claims: Mapping[str, Any], *, role_claim: str, area_claim: str, name_prefix: str = ""
) -> Principal:
    """The principal of a person's OIDC token (sign-in for people, shared/websession.py), or AuthError 403.

    The same rules as an API key of that role and area (``principal_from_claims``): a nominator without an area, a
    SYSTEM role or an unknown one is refused. The name is ``name_prefix + sub``, an account id for audit rows."""
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise AuthError(403, "FORBIDDEN", "token has no subject")
    try:
        role = _single(claims.get(role_claim), "role")
        if role is None:
            raise ValueError(f"no {role_claim!r} claim: this account has no Payung role")
        area = _single(claims.get(area_claim), "area")
        return principal_from_claims(name_prefix + sub, role, area)
    except ValueError as exc:
        raise AuthError(403, "FORBIDDEN", f"token claims: {exc}") from None
