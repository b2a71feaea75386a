"""The reviewers' workspace for objections (sanggahan): the queue by deadline, a case, its evidence, the actions.

Same rules as the review pages (api/pages.py): Bahasa Indonesia, server-rendered, no script, signed in through
shared/websession.py, every page and decision audited. Overdue cases are marked in words, not by colour alone.
Evidence downloads are attachments with their stored type (api/objections.py ``attachment``), never inline.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.verification import bootstrap
from services.verification.api import objection_text as text
from services.verification.api.objections import attachment
from services.verification.api.pages import DECIDERS, ENV, _place
from services.verification.bootstrap import Deps
from services.verification.commands import (
    DecideObjection,
    InspectObjection,
    ObjectionQueue,
    ObjectionVerdict,
    ReadEvidence,
    TakeUpObjection,
)
from services.verification.errors import ObjectionChanged, ObjectionClosed, ObjectionError, ObjectionNotFound
from services.verification.handlers import objection_reads, objections
from shared import messaging, pages, websession
from shared.auth import READERS, Principal
from shared.http import problem

router = APIRouter(prefix="/ruang-kerja/sanggahan", include_in_schema=False)
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
Viewer = Annotated[Principal, Depends(websession.page_guard(READERS))]
_decider_guard = websession.page_guard(DECIDERS)
Decider = Annotated[Principal, Depends(_decider_guard)]
NOT_FOUND = "No such objection"
LangParam = Annotated[text.Lang, Query()]


def _words(lang: text.Lang) -> dict[str, Any]:
    """What every Sanggahan page renders with: its words, its states' names, the language and the other one."""
    other = "en" if lang == "id" else "id"
    return {"t": text.words(lang), "states": text.states(lang), "page_lang": lang, "other_lang": other}


@router.get("")
async def queue(request: Request, deps: DepsDep, user: Viewer, lang: LangParam = "id") -> Response:
    cmd = ObjectionQueue(caller=user, via="workspace")
    rows = await messaging.run(deps, objection_reads.objection_queue, cmd)
    items = [{**r, "place": _place(r["desa_code"]), "ground_text": text.ground(r["ground"], lang)} for r in rows]
    return pages.render(
        ENV,
        request,
        "workspace/objections.html.j2",
        who=user,
        items=items,
        done=request.query_params.get("selesai"),
        **_words(lang),
    )


async def _case_page(
    request: Request,
    deps: Deps,
    user: Principal,
    objection_id: uuid.UUID,
    status: int = 200,
    lang: text.Lang = "id",
    **extra: object,
) -> Response:
    try:
        cmd = InspectObjection(caller=user, objection_id=objection_id, via="workspace")
        case = await messaging.run(deps, objection_reads.inspect_objection, cmd)
    except ObjectionNotFound:
        return problem(404, NOT_FOUND)
    if case is None:  # outside the reviewer's area (the refusal is audited)
        return problem(404, NOT_FOUND)
    return pages.render(
        ENV,
        request,
        "workspace/objection.html.j2",
        status=status,
        who=user,
        case=case,
        place=_place(case["desa_code"]),
        ground_text=text.ground(case["ground"], lang),
        may_decide=user.role in DECIDERS,
        note_max=objections.NOTE_MAX,
        **_words(lang),
        **extra,
    )


@router.get("/{objection_id}")
async def case_page(
    objection_id: uuid.UUID, request: Request, deps: DepsDep, user: Viewer, lang: LangParam = "id"
) -> Response:
    return await _case_page(request, deps, user, objection_id, lang=lang)


@router.get("/{objection_id}/bukti/{position}")
async def evidence(objection_id: uuid.UUID, position: int, deps: DepsDep, user: Viewer) -> Response:
    if not 0 <= position <= 1:
        return problem(404, NOT_FOUND)
    try:
        cmd = ReadEvidence(caller=user, objection_id=objection_id, position=position, via="workspace")
        found = await messaging.run(deps, objection_reads.read_evidence, cmd)
    except ObjectionNotFound:
        return problem(404, NOT_FOUND)
    return attachment(found)


def _version(text: object) -> int | None:
    value = text.strip() if isinstance(text, str) else ""
    return int(value) if value.isdigit() and len(value) < 10 else None


@router.post("/{objection_id}/ambil", dependencies=[Depends(_decider_guard), Depends(websession.csrf_protect)])
async def take_up(objection_id: uuid.UUID, request: Request, deps: DepsDep, user: Decider) -> Response:
    form = await request.form()
    version = _version(form.get("versi"))
    if version is None:
        return await _case_page(request, deps, user, objection_id, status=422, errors={"versi": "Muat ulang halaman."})
    try:
        cmd = TakeUpObjection(caller=user, objection_id=objection_id, expected_version=version, via="workspace")
        await messaging.run(deps, objections.take_up, cmd)
    except ObjectionNotFound:
        return problem(404, NOT_FOUND)
    except (ObjectionChanged, ObjectionClosed):
        return await _case_page(request, deps, user, objection_id, status=409, conflict=True)
    return RedirectResponse(f"/ruang-kerja/sanggahan/{objection_id}", status_code=303)


@router.post("/{objection_id}/keputusan", dependencies=[Depends(_decider_guard), Depends(websession.csrf_protect)])
async def decide(objection_id: uuid.UUID, request: Request, deps: DepsDep, user: Decider) -> Response:
    """The decision form: keputusan (upheld/dismissed), catatan (required, at most 1000 characters), versi.
    Field errors name the field, never the value sent."""
    form = await request.form()  # cached: csrf_protect may have read it first
    errors: dict[str, str] = {}
    verdict: ObjectionVerdict | None = None
    match form.get("keputusan"):
        case "upheld" | "dismissed" as chosen:
            verdict = chosen
        case _:
            errors["keputusan"] = "Pilih kabulkan atau tolak."
    raw_note = form.get("catatan")
    note = raw_note.strip() if isinstance(raw_note, str) else ""
    if not note:
        errors["catatan"] = "Catatan wajib diisi."
    elif len(note) > objections.NOTE_MAX or any(ord(c) < 32 and c not in "\n\r\t" for c in note):
        errors["catatan"] = f"Catatan paling panjang {objections.NOTE_MAX} karakter, tanpa karakter kendali."
    version = _version(form.get("versi"))
    if version is None:
        errors["versi"] = "Muat ulang halaman kasus ini."
    if errors or verdict is None:
        return await _case_page(request, deps, user, objection_id, status=422, errors=errors)
    cmd = DecideObjection(
        caller=user, objection_id=objection_id, verdict=verdict, note=note, expected_version=version, via="workspace"
    )
    try:
        await objections.decide_objection(deps, cmd)
    except ObjectionNotFound:
        return problem(404, NOT_FOUND)
    except (ObjectionChanged, ObjectionClosed):
        return await _case_page(request, deps, user, objection_id, status=409, conflict=True)
    except ObjectionError as exc:
        code = exc.status_code
        return await _case_page(request, deps, user, objection_id, status=code, errors={"keputusan": str(exc)})
    return RedirectResponse(f"/ruang-kerja/sanggahan?selesai={objection_id}", status_code=303)
