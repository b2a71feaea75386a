"""Membership cards of a desa for its village handover (docs/outreach.md, "Membership cards"): the printable batch
(A4 sheets of cards and the receipt list to sign) as ``GET /v1/cards/desa/{desa_code}`` for the CLI, and the
officials' portal page "Kartu peserta" (``/portal/kartu``) listing the covered members per desa with the download.

Who: a desa/RT official (nominator) for their own area, Disnaker programme staff for the regency; another desa
answers 403 (audited). A desa without a covered member answers 404: there is nothing to print. Rendering 2,000
cards takes seconds of CPU: it runs in a worker thread, one batch at a time per process, outside the transaction.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from services.nomination.api.portal import ENV
from services.nomination.api.rest import Caller, DepsDep, Problem
from services.nomination.bootstrap import Deps
from services.nomination.commands import CountCoveredMembers, PrintDesaCards
from services.nomination.handlers import cards
from services.nomination.handlers.access import OutOfArea
from shared import messaging, pages, websession
from shared.auth import Principal, Role
from shared.cards.render import desa_batch_pdf
from shared.http import problem

CARD_ROLES = frozenset({Role.NOMINATOR, Role.PROGRAMME_ADMIN})
WITA = ZoneInfo("Asia/Makassar")
DESA_CODE = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
DesaCode = Annotated[str, Path(pattern=DESA_CODE, max_length=13, description="Dotted desa code, e.g. 64.09.01.2001")]
PDF_RESPONSE = {
    200: {"content": {"application/pdf": {}}, "description": "The desa's cards and receipt list"},
    403: {"model": Problem, "description": "The desa lies outside the caller's area"},
    404: {"model": Problem, "description": "The desa has no covered member"},
}

router = APIRouter(prefix="/v1/cards", tags=["cards"])
portal_router = APIRouter(prefix="/portal", include_in_schema=False)
PortalUser = Annotated[Principal, Depends(websession.page_guard(CARD_ROLES))]


@router.get("/desa/{desa_code}", response_class=Response, responses=PDF_RESPONSE)  # type: ignore[arg-type]  # FastAPI types `responses` loosely
async def desa_batch(desa_code: DesaCode, deps: DepsDep, caller: Caller) -> Response:
    """The desa's membership cards as one PDF: A4 sheets of 8 cards (fronts, then backs for duplex printing) with
    crop marks, then "Tanda terima kartu", the list each member signs on receipt, sorted by name. Audited."""
    return await batch_response(deps, caller, desa_code)


async def batch_response(deps: Deps, caller: Principal, desa_code: str) -> Response:
    found = await messaging.run(deps, cards.desa_cards, PrintDesaCards(caller=caller, desa_code=desa_code))
    if isinstance(found, OutOfArea):
        return problem(403, "This desa lies outside the area of this account", code="OUT_OF_AREA")
    if isinstance(found, cards.NoMembers):
        return problem(404, "This desa has no covered member yet: there is no card to print", code="NO_MEMBERS")
    today = datetime.now(WITA).date()
    async with deps.card_renders:
        pdf = await asyncio.to_thread(desa_batch_pdf, found.cards, found.desa_name, today)
    headers = {
        "Content-Disposition": f'attachment; filename="kartu-{found.desa_code}.pdf"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(pdf, media_type="application/pdf", headers=headers)


@portal_router.get("/kartu")
async def cards_page(request: Request, deps: DepsDep, user: PortalUser) -> Response:
    counts = await messaging.run(deps, cards.covered_counts, CountCoveredMembers(caller=user))
    items = [{"code": code, "name": cards.desa_name(code), "count": n} for code, n in counts.items()]
    return pages.render(ENV, request, "portal/kartu.html.j2", who=user, items=items, total=sum(counts.values()))


@portal_router.get("/kartu/{desa_code}.pdf")
async def cards_download(desa_code: DesaCode, deps: DepsDep, user: PortalUser) -> Response:
    return await batch_response(deps, user, desa_code)
