"""Sign-in for people without a provider: claim mapping, the session cookie's flags, CSRF on unsafe methods.

The OIDC round trip itself (Keycloak's real login page) is tests/browser/test_signin_keycloak.py; here a session is
made through a test-only route that stores a WebUser, so cookie and CSRF rules are checked on their own.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from shared import http, websession
from shared.auth import (
    ApiKeyStore,
    Authenticator,
    AuthError,
    Principal,
    Role,
    hash_api_key,
    new_api_key,
)
from shared.websession import WebSignInSettings, WebUser, user_from_claims

SECRET = "s" * 40


def settings(**over: Any) -> WebSignInSettings:
    base = {"oidc_issuer": "http://idp.invalid/realms/payung", "session_secret": SECRET}
    return WebSignInSettings(**{**base, **over})


# ------------------------------------------------------------------------------------------ claim mapping
def test_claims_map_to_the_same_principal_as_an_api_key() -> None:
    claims = {"sub": "5b7e", "preferred_username": "sekdes", "payung_role": "nominator", "payung_area": "64.08.01.2001"}
    user = user_from_claims({**claims, "payung_nominator_type": "desa"}, settings())
    assert user.principal == Principal(name="oidc:5b7e", role=Role.NOMINATOR, area="64.08.01.2001")
    assert user.display_name == "sekdes" and user.nominator_type == "desa"
    assert user.principal.covers("64.08.01.2001") and not user.principal.covers("64.08.01.2002")


def test_keycloak_list_valued_claims_and_custom_claim_names() -> None:
    s = settings(oidc_role_claim="roles", oidc_area_claim="wilayah")
    user = user_from_claims({"sub": "x", "roles": ["verifier"]}, s)
    assert user.principal.role is Role.VERIFIER and user.principal.area is None
    user = user_from_claims({"sub": "x", "roles": "nominator", "wilayah": ["64.08.01"]}, s)
    assert user.principal.area == "64.08.01"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x"},  # no role: an account of the realm that is not a Payung user
        {"sub": "x", "payung_role": "system"},  # never grantable
        {"sub": "x", "payung_role": "root"},
        {"sub": "x", "payung_role": "nominator"},  # a nominator needs an area
        {"sub": "x", "payung_role": "nominator", "payung_area": "Sangatta"},
        {"sub": "x", "payung_role": ["verifier", "programme_admin"]},  # ambiguous
        {"payung_role": "auditor"},  # no subject
    ],
)
def test_claims_that_give_no_principal_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(AuthError) as info:
        user_from_claims(claims, settings())
    assert info.value.status == 403


def test_a_session_round_trips_the_user() -> None:
    user = WebUser(Principal("oidc:1", Role.NOMINATOR, "64.08.02"), "camat", "disnaker")
    assert WebUser.from_session(user.to_session()) == user


# ---------------------------------------------------------------------------------------- cookie and CSRF
def app_with(web: WebSignInSettings, key: str) -> FastAPI:
    app = FastAPI()
    app.state.authenticator = Authenticator(ApiKeyStore({hash_api_key(key): Principal("script", Role.PROGRAMME_ADMIN)}))
    http.install_error_format(app)
    websession.install(app, web)

    @app.get("/test-login/{role}")
    async def test_login(request: Request, role: str) -> dict[str, str]:
        area = "64.08.01.2001" if role == "nominator" else None
        request.session["user"] = WebUser(Principal("oidc:t", Role(role), area), "t").to_session()
        return {"csrf": websession.csrf_token(request)}

    @app.get("/page")
    async def page(who: Annotated[Principal, Depends(websession.page_guard({Role.AUDITOR, Role.NOMINATOR}))]) -> Any:
        return {"name": who.name, "area": who.area}

    @app.post("/form", dependencies=[Depends(websession.csrf_protect)])
    async def form(who: Annotated[Principal, Depends(websession.page_guard({Role.AUDITOR}))]) -> Any:
        return {"ok": who.name}

    return app


def client(app: FastAPI, base: str = "http://svc") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)


async def test_session_cookie_flags_over_http_and_https() -> None:
    key = new_api_key()
    async with client(app_with(settings(), key)) as c:
        r = await c.get("/test-login/auditor")
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(websession.COOKIE + "=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert "max-age=28800" in cookie

    https = settings(oidc_public_base_url="https://payung.example.go.id")
    async with client(app_with(https, key), "https://payung.example.go.id") as c:
        r = await c.get("/test-login/auditor")
    assert "; secure" in r.headers["set-cookie"].lower()
    forced = settings(session_cookie_secure=True)
    async with client(app_with(forced, key)) as c:
        assert "; secure" in (await c.get("/test-login/auditor")).headers["set-cookie"].lower()


async def test_a_tampered_cookie_is_no_session() -> None:
    async with client(app_with(settings(), new_api_key())) as c:
        await c.get("/test-login/auditor")
        value = c.cookies[websession.COOKIE]
        c.cookies.set(websession.COOKIE, value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
        r = await c.get("/page")
    assert r.status_code == 303 and r.headers["location"] == "/auth/login?next=%2Fpage"


async def test_pages_redirect_to_sign_in_and_scope_by_the_session() -> None:
    async with client(app_with(settings(), new_api_key())) as c:
        r = await c.get("/page?lang=en")
        assert r.status_code == 303 and r.headers["location"] == "/auth/login?next=%2Fpage%3Flang%3Den"
        await c.get("/test-login/nominator")
        assert (await c.get("/page")).json() == {"name": "oidc:t", "area": "64.08.01.2001"}
        await c.get("/test-login/verifier")  # a role the page does not list
        assert (await c.get("/page")).status_code == 403


async def test_unsafe_methods_need_the_session_csrf_token() -> None:
    key = new_api_key()
    async with client(app_with(settings(), key)) as c:
        token = (await c.get("/test-login/auditor")).json()["csrf"]
        assert (await c.post("/form")).status_code == 403
        assert (await c.post("/form", data={"csrf_token": "wrong"})).status_code == 403
        assert (await c.post("/form", headers={"X-CSRF-Token": token + "x"})).status_code == 403
        assert (await c.post("/form", data={"csrf_token": token})).json() == {"ok": "oidc:t"}
        assert (await c.post("/form", headers={"X-CSRF-Token": token})).status_code == 200
        # a token of another session is no good
        async with client(app_with(settings(), key)) as other:
            other_token = (await other.get("/test-login/auditor")).json()["csrf"]
        assert (await c.post("/form", data={"csrf_token": other_token})).status_code == 403


async def test_an_api_key_needs_no_csrf_token_and_keeps_its_own_role() -> None:
    key = new_api_key()
    async with client(app_with(settings(), key)) as c:
        assert (await c.post("/form", headers={"X-API-Key": key})).status_code == 403  # programme_admin not listed
        assert (await c.get("/page", headers={"X-API-Key": "pyg_wrong"})).status_code == 401


async def test_sign_out_needs_csrf_and_clears_the_session() -> None:
    async with client(app_with(settings(oidc_issuer=""), new_api_key())) as c:
        token = (await c.get("/test-login/auditor")).json()["csrf"]
        assert (await c.post("/auth/logout")).status_code == 403
        r = await c.post("/auth/logout", data={"csrf_token": token})
        assert r.status_code == 303 and r.headers["location"].endswith("/auth/signed-out")
        assert (await c.get("/page")).status_code == 401  # sign-in off: API keys only


def test_open_redirects_are_refused() -> None:
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "", None):
        assert websession._local_path(bad) == "/"
    assert websession._local_path("/dashboard?lang=en") == "/dashboard?lang=en"


def test_an_issuer_without_a_session_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="SESSION_SECRET"):
        websession.install(FastAPI(), settings(session_secret="short"))


@pytest.mark.parametrize("path", ["/", "/dashboard", "/dashboard.xlsx?lang=en"])
async def test_the_dashboard_pages_need_a_session_or_a_key(path: str) -> None:
    from services.reporting.app import create
    from services.reporting.settings import ReportingSettings

    key = new_api_key()
    settings = ReportingSettings(
        database_url="postgresql://unused:unused@127.0.0.1:1/unused",
        kafka_bootstrap="127.0.0.1:1",
        api_keys={hash_api_key(key): {"name": "v", "role": "verifier"}},
    )
    async with client(create(settings, WebSignInSettings())) as c:  # sign-in off: API keys only
        assert (await c.get(path)).status_code == 401
        assert (await c.get(path, headers={"X-API-Key": "pyg_unknown"})).status_code == 401
    async with client(create(settings, settings_signin())) as c:  # sign-in on: a browser goes to the login page
        r = await c.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/login?next=%2F")


def settings_signin() -> WebSignInSettings:
    return settings()
