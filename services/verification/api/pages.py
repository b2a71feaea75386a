"""The reviewer's workspace: the review queue and each case with its evidence side by side, for Disnaker verifiers.

Server-rendered pages (Bahasa Indonesia), served by the verification service, which owns the cases; no script is
needed (forms post, links navigate), so everything works from the keyboard (access keys, focus order = reading
order). The person is signed in by shared/websession.py; every list, view and decision is audited with them. The
supporting letter is not in this service: the page shows it from the nomination service's own page
(``/portal/surat/{id}``), which the browser fetches with the reviewer's own session there and which audits the read;
no database is read across services.

A decision names the case version the reviewer saw (optimistic concurrency): when another reviewer decided first,
the second is told who decided, how and why, and nothing of theirs is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from services.verification import bootstrap
from services.verification.bootstrap import Deps
from services.verification.commands import DecideReview, InspectReview, NoteConflict, ReviewQueue, Verdict
from services.verification.domain import severities
from services.verification.errors import PersonAlreadyVerified, ReviewChanged, ReviewClosed, ReviewError, ReviewNotFound
from services.verification.handlers import reads, reviews
from shared import messaging, pages, reasons, websession
from shared.auth import READERS, Principal, Role
from shared.http import problem
from shared.regions import default_regions

router = APIRouter(prefix="/ruang-kerja", include_in_schema=False)
DepsDep = Annotated[Deps, Depends(bootstrap.deps)]
DECIDERS = frozenset({Role.VERIFIER, Role.PROGRAMME_ADMIN})
Viewer = Annotated[Principal, Depends(websession.page_guard(READERS))]
_decider_guard = websession.page_guard(DECIDERS)
Decider = Annotated[Principal, Depends(_decider_guard)]
ENV = pages.environment(Path(__file__).parent.parent / "templates")
KECAMATAN = r"^\d{2}\.\d{2}\.\d{2}$"
REASON = r"^[A-Z_]{2,40}$"
NOTE_MAX = 2000


def _kecamatan(regency: str) -> list[tuple[str, str]]:
    return [(r.code, r.name) for r in default_regions().by_level("kecamatan") if r.code.startswith(regency + ".")]


def _place(code: str | None) -> str:
    if not code:
        return "-"
    region = default_regions().get(code)
    return f"{region.name} ({code})" if region else code


@router.get("")
async def queue(
    request: Request,
    deps: DepsDep,
    user: Viewer,
    kecamatan: Annotated[str | None, Query(pattern=KECAMATAN)] = None,
    alasan: Annotated[str | None, Query(pattern=REASON)] = None,
) -> Response:
    rows = await messaging.run(
        deps, reads.review_queue, ReviewQueue(caller=user, kecamatan=kecamatan, reason_code=alasan)
    )
    items = [
        {
            "id": r["id"],
            "place": _place(r["desa_code"]),
            "layer": r["layer"],
            "reasons": [x.get("code") for x in r["reasons"]],
            "created_at": r["created_at"],
        }
        for r in rows
    ]
    settings = deps.settings
    return pages.render(
        ENV,
        request,
        "workspace/queue.html.j2",
        who=user,
        items=items,
        kecamatan=_kecamatan(settings.programme_regency),
        chosen_kecamatan=kecamatan,
        reason_codes=sorted(severities.REVIEW_CODES | {c for i in items for c in i["reasons"]}),
        chosen_reason=alasan,
        done=request.query_params.get("selesai"),
    )


async def _case_page(
    request: Request,
    deps: Deps,
    user: Principal,
    review_id: int,
    status: int = 200,
    **extra: Any,
) -> Response:
    try:
        cmd = InspectReview(caller=user, review_id=review_id, via="workspace")
        case = await messaging.run(deps, reviews.inspect_review, cmd)
    except ReviewNotFound:
        return problem(404, "No such review")
    if case is None:  # outside the reviewer's area (the refusal is audited)
        return problem(404, "No such review")
    settings = deps.settings
    letter_url = f"{settings.nomination_public_url.rstrip('/')}/portal/surat/{case['nomination']['nomination_id']}"
    reject_codes = sorted(severities.REJECT_CODES)
    return pages.render(
        ENV,
        request,
        "workspace/case.html.j2",
        status=status,
        who=user,
        case=case,
        place=_place(case["nomination"]["desa_code"]),
        places={c["nomination_id"]: _place(c["desa_code"]) for c in case["candidates"]},
        letter_url=letter_url,
        reject_codes=[(c, reasons.info(c).description) for c in reject_codes],
        may_decide=user.role in DECIDERS,
        **extra,
    )


@router.get("/{review_id}")
async def case_page(review_id: int, request: Request, deps: DepsDep, user: Viewer) -> Response:
    if not 1 <= review_id <= 2**63 - 1:
        return problem(404, "No such review")
    return await _case_page(request, deps, user, review_id)


@router.post("/{review_id}/keputusan", dependencies=[Depends(_decider_guard), Depends(websession.csrf_protect)])
async def decide(review_id: int, request: Request, deps: DepsDep, user: Decider) -> Response:
    """The decision form (application/x-www-form-urlencoded): keputusan, alasan (for a rejection), catatan
    (mandatory), versi. Field errors name the field, never the value sent."""
    if not 1 <= review_id <= 2**63 - 1:
        return problem(404, "No such review")
    form = await request.form()  # cached: csrf_protect may have read it first

    def field(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    errors: dict[str, str] = {}
    verdict: Verdict | None = None
    match field("keputusan"):
        case "approve" | "reject" as chosen:
            verdict = chosen
        case _:
            errors["keputusan"] = "Pilih setujui atau tolak."
    reason = field("alasan") or None
    if verdict == "reject" and reason not in severities.REJECT_CODES:
        errors["alasan"] = "Penolakan perlu alasan dari daftar."
    note = field("catatan")
    if not note:
        errors["catatan"] = "Catatan wajib diisi."
    elif len(note) > NOTE_MAX or any(ord(c) < 32 and c not in "\n\r\t" for c in note):
        errors["catatan"] = f"Catatan paling panjang {NOTE_MAX} karakter, tanpa karakter kendali."
    version_text = field("versi")
    version = int(version_text) if version_text.isdigit() and len(version_text) < 10 else None
    if version is None:
        errors["versi"] = "Muat ulang halaman kasus ini."
    if errors or verdict is None:
        return await _case_page(request, deps, user, review_id, status=422, errors=errors)
    cmd = DecideReview(
        caller=user,
        review_id=review_id,
        verdict=verdict,
        reason_code=reason if verdict == "reject" else None,
        note=note,
        expected_version=version,
        via="workspace",
    )
    try:
        await messaging.run(deps, reviews.decide, cmd)
    except ReviewNotFound:  # or outside the reviewer's area
        return problem(404, "No such review")
    except (ReviewChanged, ReviewClosed):
        await messaging.run(
            deps, reviews.note_conflict, NoteConflict(caller=user, review_id=review_id, verdict=verdict)
        )
        return await _case_page(request, deps, user, review_id, status=409, conflict=True)
    except PersonAlreadyVerified:
        msg = "Orang ini sudah terverifikasi lewat usulan lain: tolak kasus ini sebagai duplikat."
        return await _case_page(request, deps, user, review_id, status=409, errors={"keputusan": msg})
    except ReviewError as exc:
        return await _case_page(request, deps, user, review_id, status=exc.status_code, errors={"keputusan": str(exc)})
    return RedirectResponse(f"/ruang-kerja?selesai={review_id}", status_code=303)


@router.get("/static/workspace.css")
async def stylesheet() -> Response:
    body = (Path(__file__).parent.parent / "static" / "workspace.css").read_bytes()
    return Response(body, media_type="text/css", headers={"Cache-Control": "no-cache"})
