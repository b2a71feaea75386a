"""Sign-in for people: OpenID Connect (authorization code + PKCE), a signed session cookie, CSRF tokens, sign-out.

Usage (a web-serving service; pages only, the APIs keep ``X-API-Key``/JWT)::

    from shared import websession
    from shared.auth import Principal, Role

    # once, after create_app (shared.service.create_app(SPEC, settings)):
    websession.install(app, websession.WebSignInSettings())
    #   mounts GET /auth/login?next=/path, GET /auth/callback, POST /auth/logout (CSRF-checked), GET /auth/signed-out
    #   and the session middleware (cookie ``payung_session``: signed, HttpOnly, SameSite=Lax, Secure over https)

    # page routes go in ServiceSpec.public_routers (the API-key guard is not theirs) and guard themselves:
    pages = APIRouter()

    @pages.get("/portal")
    async def portal(request: Request, who: Annotated[Principal, Depends(websession.page_guard({Role.NOMINATOR}))]):
        ctx = websession.template_context(request)  # {"user": WebUser|None, "csrf_token": str, "logout_url": ...}
        ...  # who.covers(desa_code) scopes data exactly as for an API key of the same role/area

    @pages.post("/portal/things", dependencies=[Depends(websession.csrf_protect)])  # every unsafe method
    async def post_thing(...): ...   # forms carry <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
                                     # fetch() calls send the header X-CSRF-Token: <csrf_token>

``page_guard(roles)`` gives the signed-in person's ``Principal`` (the same dataclass API keys produce, so
``Principal.covers`` and role checks are unchanged); a request carrying ``X-API-Key``/``Authorization`` is
authenticated by the service's ``Authenticator`` instead (scripts, tests). Nobody signed in: a GET is redirected
(303) to ``/auth/login?next=<path>``, any other method gets 401; a role not in ``roles`` gets 403.
``websession.current_user(request)`` gives the ``WebUser`` (principal, display name, nominator type) or None.

Configuration (environment, prefix ``PAYUNG_``): ``OIDC_ISSUER`` (empty: sign-in off, pages accept API keys only),
``OIDC_METADATA_URL`` (the discovery document's URL when the service reaches the provider by another name than
browsers do, as in compose; empty: ``<issuer>/.well-known/openid-configuration``), ``OIDC_CLIENT_ID``,
``OIDC_CLIENT_SECRET`` (empty: a public client, PKCE only), ``OIDC_SCOPES``,
``OIDC_ROLE_CLAIM``/``OIDC_AREA_CLAIM``/``OIDC_NOMINATOR_TYPE_CLAIM`` (claim names of any provider),
``OIDC_PUBLIC_BASE_URL`` (how browsers reach this service, e.g. https://payung.kutaitimurkab.go.id/reporting;
empty: taken from the request), ``SESSION_SECRET`` (signs the cookie; required with an issuer),
``SESSION_MAX_AGE_S``, ``SESSION_COOKIE_SECURE`` (unset: Secure iff the public base URL is https).

The session cookie holds only what the pages need (claims-derived role/area, display name, the id token for
RP-initiated logout, the CSRF token), signed with itsdangerous through Starlette's SessionMiddleware; it is not
encrypted, so nothing secret to the user goes in it. PKCE (S256) is used even with a client secret; state and nonce
are checked by Authlib, the id token's signature against the provider's JWKS.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.middleware.sessions import SessionMiddleware

from shared.auth import Authenticator, AuthError, Principal, Role, principal_from_token_claims
from shared.http import problem

COOKIE = "payung_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PROVIDER = "payung"
_USER = "user"
_CSRF = "csrf"
_ID_TOKEN = "id_token"  # noqa: S105 - a session key, not a secret
_NEXT = "next"


class WebSignInSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYUNG_", extra="ignore")

    oidc_issuer: str = Field(default="", description="The provider's issuer URL; empty: no sign-in for people")
    oidc_metadata_url: str = Field(
        default="", description="Where this service reads the discovery document; empty: <issuer>/.well-known/..."
    )
    oidc_client_id: str = "payung-web"
    oidc_client_secret: SecretStr = Field(default=SecretStr(""), description="Empty: a public client (PKCE only)")
    oidc_scopes: str = "openid profile"
    oidc_role_claim: str = "payung_role"
    oidc_area_claim: str = "payung_area"
    oidc_nominator_type_claim: str = "payung_nominator_type"
    oidc_public_base_url: str = Field(default="", description="How browsers reach this service; empty: the request's")
    session_secret: SecretStr = Field(default=SecretStr(""), description="Signs the session cookie")
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    session_cookie_secure: bool | None = Field(default=None, description="Unset: Secure iff the base URL is https")

    @property
    def enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.oidc_public_base_url.startswith("https://")


@dataclass(frozen=True)
class WebUser:
    """The signed-in person: the principal used for every authorisation decision, plus what pages show."""

    principal: Principal
    display_name: str
    nominator_type: str | None = None

    def to_session(self) -> dict[str, Any]:
        p = self.principal
        return {
            "name": p.name,
            "role": str(p.role),
            "area": p.area,
            "display": self.display_name,
            "ntype": self.nominator_type,
        }

    @classmethod
    def from_session(cls, data: Mapping[str, Any]) -> WebUser:
        principal = Principal(name=data["name"], role=Role(data["role"]), area=data.get("area"))
        return cls(principal, str(data.get("display") or ""), data.get("ntype"))


def user_from_claims(claims: Mapping[str, Any], settings: WebSignInSettings) -> WebUser:
    """Map an id token's (or userinfo's) claims to a WebUser, or AuthError 403 (no/unknown role, bad area).

    The principal's name is ``oidc:<sub>``: an account id, never the person's name or e-mail (audit rows)."""
    principal = principal_from_token_claims(
        claims, role_claim=settings.oidc_role_claim, area_claim=settings.oidc_area_claim, name_prefix="oidc:"
    )
    display = claims.get("preferred_username") or claims.get("name") or claims["sub"]
    ntype = claims.get(settings.oidc_nominator_type_claim)
    return WebUser(principal, str(display), str(ntype) if ntype else None)


# --------------------------------------------------------------------------------------------- session
def current_user(request: Request) -> WebUser | None:
    if "session" not in request.scope:
        return None
    data = request.session.get(_USER)
    if not data:
        return None
    try:
        return WebUser.from_session(data)
    except (KeyError, ValueError):  # a cookie from an older release: sign in again
        request.session.pop(_USER, None)
        return None


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); forms embed it, fetch() sends it as X-CSRF-Token."""
    if "session" not in request.scope:
        return ""
    token = request.session.get(_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return str(token)


def template_context(request: Request) -> dict[str, Any]:
    settings: WebSignInSettings | None = getattr(request.app.state, "websession", None)
    return {
        "user": current_user(request),
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "logout_url": "/auth/logout",
        "signin_enabled": bool(settings and settings.enabled),
    }


def _by_header(request: Request) -> bool:
    return "x-api-key" in request.headers or "authorization" in request.headers


async def csrf_protect(request: Request) -> None:
    """Dependency for every unsafe route a page posts to: the session's token in the form or X-CSRF-Token.

    Requests authenticated by a header (API key, bearer token) need none: a browser never adds those by itself."""
    if request.method in SAFE_METHODS or _by_header(request):
        return
    expected = request.session.get(_CSRF) if "session" in request.scope else None
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise AuthError(403, "CSRF", "missing or wrong CSRF token; reload the page and try again")


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="pageApiKey")
_bearer = HTTPBearer(auto_error=False, scheme_name="pageBearer")


def page_guard(roles: Collection[Role | str]) -> Any:
    """A dependency for a page: the signed-in person (or an API-key caller) whose role is in ``roles``."""
    allowed = frozenset(Role(r) for r in roles)

    async def guard(
        request: Request,
        api_key: Annotated[str | None, Depends(_api_key_header)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        found: Principal | None = None
        if api_key is not None or bearer is not None:
            authenticator: Authenticator = request.app.state.authenticator
            found = authenticator.authenticate(api_key, bearer.credentials if bearer is not None else None)
        else:
            user = current_user(request)
            if user is not None:
                found = user.principal
        if found is None:
            settings: WebSignInSettings | None = getattr(request.app.state, "websession", None)
            if settings is None or not settings.enabled:
                raise AuthError(401, "UNAUTHENTICATED", "send an X-API-Key header (sign-in for people is off)")
            if request.method in ("GET", "HEAD"):
                raise LoginRequired(
                    _local_path(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
                )
            raise AuthError(401, "UNAUTHENTICATED", "sign in first")
        if found.role not in allowed:
            raise AuthError(403, "FORBIDDEN", f"role {found.role} may not open this page")
        request.state.principal = found
        return found

    return guard


def _local_path(value: str | None) -> str:
    """Only a path on this site is a valid ``next`` (no open redirect to another host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# ---------------------------------------------------------------------------------------------- routes
def _base_url(request: Request, settings: WebSignInSettings) -> str:
    if settings.oidc_public_base_url:
        return settings.oidc_public_base_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def _client(request: Request) -> Any:
    oauth: OAuth = request.app.state.oauth
    return oauth.create_client(PROVIDER)  # type: ignore[no-untyped-call]  # types-authlib leaves it unannotated


def _router(settings: WebSignInSettings) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["sign-in"], include_in_schema=False)

    @router.get("/login")
    async def login(request: Request, next: str = "/") -> Response:
        if not settings.enabled:
            return HTMLResponse(_message_page("Masuk tidak tersedia", "Sign-in for people is not configured."), 404)
        request.session[_NEXT] = _local_path(next)
        client = _client(request)
        redirect: Response = await client.authorize_redirect(request, _base_url(request, settings) + "/auth/callback")
        return redirect

    @router.get("/callback")
    async def callback(request: Request) -> Response:
        if not settings.enabled:
            return HTMLResponse(_message_page("Masuk tidak tersedia", "Sign-in is not configured."), 404)
        try:
            token = await _client(request).authorize_access_token(request)
        except OAuthError as exc:
            return HTMLResponse(_message_page("Gagal masuk", f"Sign-in failed ({exc.error}). Try again."), 400)
        claims = token.get("userinfo") or {}
        try:
            user = user_from_claims(claims, settings)
        except AuthError as exc:
            return HTMLResponse(_message_page("Akses ditolak", exc.message), 403)
        next_path = _local_path(request.session.pop(_NEXT, "/"))
        # a new session on sign-in (no fixation): drop everything Authlib kept for the login, new CSRF token
        request.session.clear()
        request.session[_USER] = user.to_session()
        request.session[_ID_TOKEN] = token.get("id_token", "")
        request.session[_CSRF] = secrets.token_urlsafe(32)
        return RedirectResponse(next_path, status_code=303)

    @router.post("/logout", dependencies=[Depends(csrf_protect)])
    async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
        id_token = request.session.get(_ID_TOKEN)
        request.session.clear()
        back = _base_url(request, settings) + "/auth/signed-out"
        if not settings.enabled:
            return RedirectResponse(back, status_code=303)
        metadata = await _client(request).load_server_metadata()
        end = metadata.get("end_session_endpoint")
        if not end:
            return RedirectResponse(back, status_code=303)
        query = {"post_logout_redirect_uri": back, "client_id": settings.oidc_client_id}
        if id_token:
            query["id_token_hint"] = id_token
        return RedirectResponse(f"{end}?{urlencode(query)}", status_code=303)

    @router.get("/signed-out")
    async def signed_out() -> HTMLResponse:
        return HTMLResponse(
            _message_page("Anda sudah keluar", "Anda sudah keluar dari Payung.", link=("/", "Masuk lagi"))
        )

    return router


def _message_page(title: str, text: str, link: tuple[str, str] | None = None) -> str:
    from html import escape

    more = f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>' if link else ""
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Payung</title></head>"
        f'<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem">'
        f"<main><h1>{escape(title)}</h1><p>{escape(text)}</p>{more}</main></body></html>"
    )


async def _login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    settings: WebSignInSettings = request.app.state.websession
    if not settings.enabled:
        headers = {"WWW-Authenticate": 'Bearer realm="payung"'}
        return problem(
            401, "send an X-API-Key header (sign-in for people is off)", code="UNAUTHENTICATED", headers=headers
        )
    return RedirectResponse("/auth/login?" + urlencode({"next": exc.next_path}), status_code=303)


def install(app: FastAPI, settings: WebSignInSettings | None = None) -> WebSignInSettings:
    """Session middleware, the OIDC client and the /auth routes on ``app``; gives back the settings used."""
    settings = settings or WebSignInSettings()
    secret = settings.session_secret.get_secret_value()
    if settings.enabled and len(secret) < 32:
        raise ValueError("PAYUNG_SESSION_SECRET must be set (32+ characters) when PAYUNG_OIDC_ISSUER is")
    app.state.websession = settings
    oauth = OAuth()
    if settings.enabled:
        client_kwargs: dict[str, Any] = {"scope": settings.oidc_scopes, "code_challenge_method": "S256"}
        secret_value = settings.oidc_client_secret.get_secret_value()
        if not secret_value:
            client_kwargs["token_endpoint_auth_method"] = "none"  # noqa: S105 - a public client
        oauth.register(
            PROVIDER,
            client_id=settings.oidc_client_id,
            client_secret=secret_value or None,
            server_metadata_url=settings.oidc_metadata_url
            or settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs=client_kwargs,
        )
    app.state.oauth = oauth
    app.add_middleware(
        SessionMiddleware,
        # without an issuer only CSRF tokens live in the session: a per-process random key is enough
        secret_key=secret or secrets.token_urlsafe(32),
        session_cookie=COOKIE,
        max_age=settings.session_max_age_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    app.add_exception_handler(LoginRequired, _login_redirect)
    app.include_router(_router(settings))
    return settings
