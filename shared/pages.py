"""What the people's pages of every service share: templates and the headers every page is served with.

Who is signed in, CSRF and sign-out are shared/websession.py's (OIDC); pages take the person as
``Depends(websession.page_guard(roles))`` and protect writes with ``Depends(websession.csrf_protect)``.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared import websession

# Everything is served by the service itself: no CDN, no external font, no inline script or style. Forms post here
# only, or (sign-out's redirect to RP-initiated logout) to the identity provider.
_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "frame-src 'self' http: https:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def headers(request: Request) -> dict[str, str]:
    """The page headers; the CSP's form-action names the identity provider's origin when sign-in is on."""
    settings = getattr(request.app.state, "websession", None)
    issuer = getattr(settings, "oidc_issuer", "") or ""
    parts = urllib.parse.urlsplit(issuer)
    if not (parts.scheme in ("http", "https") and parts.netloc):
        return PAGE_HEADERS
    return {**PAGE_HEADERS, "Content-Security-Policy": f"{_CSP} {parts.scheme}://{parts.netloc}"}


def environment(templates: Path) -> Environment:
    return Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["j2", "html"]))


def render(env: Environment, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with the session's context (user, csrf_token, logout_url) and the page headers."""
    html = env.get_template(name).render(**websession.template_context(request), **context)
    return HTMLResponse(html, status_code=status, headers=headers(request))
