"""What the people's pages of every service share: the signed-in user, CSRF, templates, safe headers.

``page_user`` and ``check_csrf`` are the one seam between the pages and the sign-in module. Until the OIDC
session module (``shared/websession.py``, branch ``signin``) is merged, a stand-in signs a person in with the API
key of their role and area (``POST <prefix>/masuk``): the key is kept in an HttpOnly, SameSite=Strict cookie and
verified on every request by the service's own ``Authenticator``; the CSRF token is derived from it
(SHA-256 of a label and the key: a page of another origin can neither read the cookie nor compute the token).
Swapping in the OIDC session changes these functions only, never a page or route.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared import auth
from shared.auth import Principal

SESSION_COOKIE = "payung_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
PAGE_HEADERS = {
    # Everything is served by the service itself: no CDN, no external font, no inline script.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-src 'self' http: https:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NotSignedIn(Exception):
    """The page needs a signed-in person; the route answers with the sign-in page."""


def environment(templates: Path) -> Environment:
    return Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["j2", "html"]))


def render(env: Environment, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(name).render(**context), status_code=status, headers=PAGE_HEADERS)


def _key(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def page_user(request: Request) -> Principal:
    """The signed-in person, or NotSignedIn."""
    key = _key(request)
    if key is None:
        raise NotSignedIn
    authenticator: auth.Authenticator = request.app.state.authenticator
    try:
        return authenticator.authenticate(key, None)
    except auth.AuthError:
        raise NotSignedIn from None


def sign_in(request: Request, api_key: str) -> Principal | None:
    authenticator: auth.Authenticator = request.app.state.authenticator
    try:
        return authenticator.authenticate(api_key, None)
    except auth.AuthError:
        return None


def set_session(response: Any, request: Request, api_key: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        api_key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def csrf_token(request: Request) -> str:
    key = _key(request) or ""
    return hashlib.sha256(b"payung-csrf:" + key.encode()).hexdigest()


def check_csrf(request: Request, sent: str | None) -> bool:
    """Whether ``sent`` (the X-CSRF-Token header or the form's csrf_token field) matches this session's token."""
    return bool(sent) and _key(request) is not None and hmac.compare_digest(sent or "", csrf_token(request))
