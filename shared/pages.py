"""What the people's pages of every service share: templates and the headers every page is served with.

Who is signed in, CSRF and sign-out are shared/websession.py's (OIDC); pages take the person as
``Depends(websession.page_guard(roles))`` and protect writes with ``Depends(websession.csrf_protect)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared import websession

PAGE_HEADERS = {
    # Everything is served by the service itself: no CDN, no external font, no inline script or style.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "frame-src 'self' http: https:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def environment(templates: Path) -> Environment:
    return Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(["j2", "html"]))


def render(env: Environment, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page with the session's context (user, csrf_token, logout_url) and the page headers."""
    html = env.get_template(name).render(**websession.template_context(request), **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
