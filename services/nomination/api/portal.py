"""The nominator's portal: server-rendered pages in Bahasa Indonesia for RT and desa officials (docs/portal.md).

Pages (``/portal/...``) are served by the nomination service itself, which owns the data; the person is signed in
by shared/websession.py (OIDC). The page's own small scripts (static/) validate with the rules the server exports
(``api/rules.py``), queue a nomination on the device when there is no signal and send it later with the
Idempotency-Key made when it was filled in. The JSON routes under
``/portal/api`` run the same commands as the machine API (``rest.submit``, the letter handlers): the session
cookie replaces the API key, a CSRF token is required on every write, the area check is the same.

These routes are on the edge's public list (they authenticate the session themselves: ``websession.page_guard``,
which also takes an API key, for scripts and tests); the edge still bounds every body (``body_limits`` in app.py)
and rate-limits per client.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from services.nomination import domain
from services.nomination.api import rest, rules
from services.nomination.api.rest import DepsDep
from services.nomination.commands import (
    CopyLetter,
    ListNominations,
    NominationRequest,
    ReadRejectedRequest,
    StoreLetter,
    SubmitNomination,
)
from services.nomination.errors import LetterRefused
from services.nomination.handlers import letters, reads
from shared import messaging, pages, reasons, websession
from shared.auth import EVERYONE, Principal, Role
from shared.formats import OCCUPATIONS
from shared.http import field_errors, problem
from shared.regions import default_regions

router = APIRouter(prefix="/portal", include_in_schema=False)
PORTAL_ROLES = frozenset({Role.NOMINATOR, Role.PROGRAMME_ADMIN})
HERE = Path(__file__).parent.parent  # the service folder: templates/ and static/
ENV = pages.environment(HERE / "templates")
STATIC = {
    "portal.css": "text/css",
    "portal.js": "text/javascript",
    "queue.js": "text/javascript",
    "rules.js": "text/javascript",
}
STATUS_ID = {
    "submitted": "diterima, menunggu verifikasi",
    "in_review": "diperiksa petugas Disnaker",
    "verified": "terverifikasi",
    "rejected": "ditolak",
    "waitlisted": "daftar tunggu",
    "enrolled": "terdaftar BPJS",
    "notified": "sudah diberi tahu",
    "ended": "kepesertaan berakhir",
    "refused": "ditolak BPJS Ketenagakerjaan",
}


OBJECTION_ID = {"received": "diterima", "in_review": "sedang diperiksa", "upheld": "dikabulkan", "dismissed": "ditolak"}


_portal_guard = websession.page_guard(PORTAL_ROLES)
PortalUser = Annotated[Principal, Depends(_portal_guard)]
Reader = Annotated[Principal, Depends(websession.page_guard(EVERYONE))]
# who first (401/403), then the CSRF token: the guard is the same dependency as PortalUser's, so it runs once
CSRF = [Depends(_portal_guard), Depends(websession.csrf_protect)]


# --------------------------------------------------------------------------------------------------- pages
@router.get("/")
async def home() -> Response:
    return RedirectResponse("/portal/usul", status_code=303)


@router.get("/usul")
async def form_page(request: Request, deps: DepsDep, user: PortalUser) -> Response:
    desa = rules.area_desa(user.area, deps.settings.programme_regency)
    return pages.render(ENV, request, "portal/usul.html.j2", who=user, desa=desa, occupations=OCCUPATIONS)


@router.get("/daftar")
async def list_page(request: Request, deps: DepsDep, user: PortalUser) -> Response:
    regions = default_regions()
    rows = await messaging.run(deps, reads.list_in_area, ListNominations(caller=user))
    items = []
    for row in rows:
        found = _fixes(row["outcome"], row["progress"] or {})
        desa = regions.get(row["desa_code"])
        items.append(
            {
                "id": str(row["id"]),
                "name": row["full_name"],
                "desa": desa.name if desa else row["desa_code"],
                "status": STATUS_ID.get(row["status"], row["status"]),
                "rejected": row["outcome"] in domain.CORRECTABLE,
                "objectable": row["outcome"] in ("rejected", "ended"),  # sanggahan: api/portal_outreach.py
                "objection": OBJECTION_ID.get(row["objection_state"] or ""),
                "objection_due_by": row["objection_due_by"],
                "reasons": found,
                "has_letter": row["has_letter"],
                "submitted_at": row["submitted_at"],
            }
        )
    return pages.render(ENV, request, "portal/daftar.html.j2", who=user, items=items)


def _fixes(outcome: str | None, progress: dict[str, object]) -> list[dict[str, str]]:
    """What the official reads under a rejected or refused nomination: each reason's code and what to fix."""
    if outcome == "rejected":
        found = progress.get("reasons") or []
        codes = [str(r.get("code")) for r in found if isinstance(r, dict)] if isinstance(found, list) else []
        return [{"code": code, "fix": reasons.fix_text(code)} for code in codes]
    if outcome == "refused":
        code = str(progress.get("end_reason") or "").removeprefix("bpjs_refused:") or "?"
        fix = (
            f"BPJS Ketenagakerjaan menolak pendaftaran orang ini (kode {code}); alasannya sudah dikirim ke pengusul. "
            "Periksa datanya bersama Disnaker (misalnya sudah terdaftar sebagai pekerja penerima upah), "
            "perbaiki, lalu kirim ulang."
        )
        return [{"code": code, "fix": fix}]
    return []


@router.get("/sw.js")
async def service_worker() -> Response:
    # served from /portal/ so that its scope is the portal; never cached by HTTP, so an update reaches the phone
    body = (HERE / "static" / "sw.js").read_bytes()
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/static/{name}")
async def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        return problem(404, "No such file")
    body = (HERE / "static" / name).read_bytes()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------------------------------------- JSON routes
@router.get("/api/aturan")
async def page_rules(deps: DepsDep, user: PortalUser) -> Response:
    settings = deps.settings
    body = rules.rules(user, settings.programme_regency, settings.letter_max_bytes)
    return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-cache"})


@router.get("/api/csrf")
async def csrf(request: Request, _: PortalUser) -> Response:
    """A fresh CSRF token for the queue's sends (the page it was filled in on may be a kept copy)."""
    body = orjson.dumps({"csrf": websession.csrf_token(request)})
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.post("/api/nominations", dependencies=CSRF)
async def submit(
    request: Request,
    deps: DepsDep,
    user: PortalUser,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    try:
        body = NominationRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        return problem(422, "the request is not valid", errors=field_errors(exc.errors(), drop_body=False))
    return await rest.submit(deps, SubmitNomination(caller=user, request=body, idempotency_key=idempotency_key))


@router.put("/api/nominations/{nomination_id}/letter", dependencies=CSRF)
async def put_letter(
    nomination_id: uuid.UUID,
    request: Request,
    deps: DepsDep,
    user: PortalUser,
    dari: uuid.UUID | None = None,
) -> Response:
    """The letter of a nomination: the body, or (``?dari=<rejected nomination>``, empty body) the letter of the
    nomination it corrects."""
    if dari is not None:
        copied = await messaging.run(
            deps, letters.copy, CopyLetter(caller=user, source_id=dari, nomination_id=nomination_id)
        )
        if isinstance(copied, LetterRefused):
            return rest.letter_refused(copied)
        body = {"nomination_id": str(nomination_id), "media_type": copied.media_type, "size_bytes": copied.size_bytes}
        return Response(orjson.dumps(body), media_type="application/json")
    command = StoreLetter(caller=user, nomination_id=nomination_id, content=await request.body())
    letter = await messaging.run(deps, letters.store, command)
    if isinstance(letter, LetterRefused):
        return rest.letter_refused(letter)
    stored = rest.LetterStored(
        nomination_id=nomination_id, media_type=letter.media_type, size_bytes=letter.size_bytes, sha256=letter.sha256
    )
    return Response(stored.model_dump_json(), media_type="application/json")


@router.get("/api/nominations/{nomination_id}/request")
async def rejected_request(nomination_id: uuid.UUID, deps: DepsDep, user: PortalUser) -> Response:
    """A rejected nomination's request, to prefill the corrected resubmission (audited; the area check applies)."""
    command = ReadRejectedRequest(caller=user, nomination_id=nomination_id)
    found = await messaging.run(deps, reads.rejected_request, command)
    if found is None:
        return problem(404, "No such nomination")
    if isinstance(found, reads.NotCorrectable):
        return problem(409, "only a rejected or refused nomination is corrected and sent again", code="NOT_REJECTED")
    return Response(orjson.dumps(found), media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/surat/{nomination_id}")
async def letter(nomination_id: uuid.UUID, deps: DepsDep, user: Reader) -> Response:
    """The letter for a signed-in person of any role (the reviewer's workspace shows it from here, with the
    reviewer's own session; audited like the API's read, the area check applies)."""
    return await rest.letter_response(deps, user, nomination_id)
