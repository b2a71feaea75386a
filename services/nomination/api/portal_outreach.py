"""The portal's pages for objections and leads (Bahasa Indonesia, docs/outreach.md).

- ``/portal/usulan/{id}/sanggahan``: a nomination's objections (state and deadline) and, when it is rejected or its
  cover ended, the "Ajukan sanggahan" form (reason, text, up to 2 evidence files): filed as the nominator, channel
  portal, with the same command as ``POST /v1/nominations/{id}/objections``.
- ``/portal/calon``: "Calon peserta", the leads of the account's area (a regency account filters by desa), newest
  first, each marked "sudah dihubungi" or "diusulkan" by hand (or shown "diusulkan" once a nomination with the same
  number was submitted in that desa). Every read is audited by the handlers.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.nomination.api import outreach
from services.nomination.api.portal import CSRF, ENV, OBJECTION_ID, STATUS_ID, PortalUser
from services.nomination.api.rest import DepsDep
from services.nomination.commands import FileObjection, ListLeads, MarkLead, ReadNomination, ReadObjections
from services.nomination.domain import objections as rules
from services.nomination.domain.leads import LeadMark
from services.nomination.handlers import leads, objections, reads
from shared import messaging, pages
from shared.auth import Principal
from shared.contracts import Evidence, EvidenceType, ObjectionReason
from shared.formats import OCCUPATIONS
from shared.http import problem
from shared.regions import RegionIndex, default_regions

router = APIRouter(prefix="/portal", include_in_schema=False)
# the multipart form: two files of at most 300 KB, the text, the token and the framing
FORM_MAX_BODY = 2 * rules.EVIDENCE_MAX_BYTES + 16 * 1024
REASONS_ID: dict[str, str] = {
    "data_corrected": "Data kependudukan sudah diperbaiki",
    "not_duplicate": "Bukan data ganda (orang yang berbeda)",
    "still_eligible": "Masih pekerja informal / masih tinggal di daerah ini",
    "not_deceased": "Masih hidup (bukan meninggal)",
    "not_moved": "Tidak pindah, masih tinggal di sini",
    "other": "Lainnya",
}
LEAD_STATE_ID = {"new": "baru", "contacted": "sudah dihubungi", "nominated": "diusulkan"}
MEDIA = {"application/pdf", "image/jpeg", "image/png"}


async def _objection_page(
    request: Request, deps: Any, user: Principal, nomination_id: uuid.UUID, status: int = 200, error: str = ""
) -> Response:
    found = await messaging.run(deps, reads.read, ReadNomination(caller=user, nomination_id=nomination_id))
    if found is None:
        return problem(404, "No such nomination")
    rows = await messaging.run(deps, objections.read, ReadObjections(caller=user, nomination_id=nomination_id))
    items = [
        {
            "reason": REASONS_ID.get(r["reason_code"], r["reason_code"]),
            "state": OBJECTION_ID.get(r["state"], r["state"]),
            "due_by": r["due_by"].strftime("%d-%m-%Y"),
            "filed_at": r["filed_at"].strftime("%d-%m-%Y"),
            "note": r["note"],
        }
        for r in rows or []
    ]
    nomination = found.nomination
    summaries = objections_summaries(rows or [])
    can_file = nomination["outcome"] in ("rejected", "ended") and not any(s.state in rules.OPEN for s in summaries)
    return pages.render(
        ENV,
        request,
        "portal/sanggahan.html.j2",
        status=status,
        who=user,
        nomination_id=str(nomination_id),
        status_text=STATUS_ID.get(nomination["status"], nomination["status"]),
        items=items,
        can_file=can_file and len(summaries) < rules.MAX_OBJECTIONS,
        reasons=REASONS_ID,
        error=error,
    )


def objections_summaries(rows: Any) -> list[rules.ObjectionSummary]:
    return [rules.ObjectionSummary(r["id"], r["state"], r["due_by"]) for r in rows]


@router.get("/usulan/{nomination_id}/sanggahan")
async def objection_page(nomination_id: uuid.UUID, request: Request, deps: DepsDep, user: PortalUser) -> Response:
    return await _objection_page(request, deps, user, nomination_id)


@router.post("/usulan/{nomination_id}/sanggahan", dependencies=CSRF)
async def file_objection(nomination_id: uuid.UUID, request: Request, deps: DepsDep, user: PortalUser) -> Response:
    """ "Ajukan sanggahan": the form's reason, text and up to 2 files (checked by content in the domain)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return problem(415, "send the form as multipart/form-data")
    async with request.form(max_files=2, max_fields=5) as form:
        reason = str(form.get("alasan") or "")
        text = str(form.get("keterangan") or "")
        evidence: list[Evidence] = []
        for sent in form.getlist("bukti"):
            if isinstance(sent, UploadFile) and sent.filename:
                content = await sent.read(rules.EVIDENCE_MAX_BYTES + 1)
                if len(content) > rules.EVIDENCE_MAX_BYTES:
                    too_large = _WHY_ID["EVIDENCE_TOO_LARGE"]
                    return await _objection_page(request, deps, user, nomination_id, 413, too_large)
                evidence.append(_evidence(sent.filename, content))
    if reason not in REASONS_ID:
        return await _objection_page(request, deps, user, nomination_id, 422, "Pilih alasan sanggahan.")
    command = FileObjection(
        nomination_id=nomination_id,
        filed_by="nominator",
        channel="portal",
        reason_code=cast(ObjectionReason, reason),
        reason_text=text[: rules.REASON_TEXT_MAX + 1],
        evidence=tuple(evidence),
        caller=user,
    )
    answer = await outreach.file(deps, command)
    if isinstance(answer, outreach.ObjectionOut):
        return RedirectResponse(f"/portal/usulan/{nomination_id}/sanggahan", status_code=303)
    if answer.status_code in (403, 404):  # another area's nomination: refused (and audited), nothing shown
        return answer
    return await _objection_page(request, deps, user, nomination_id, answer.status_code, _why(answer.body))


def _evidence(filename: str, content: bytes) -> Evidence:
    """A sent file as the contract carries it; its type is what its bytes show (the domain checks the rest)."""
    media = cast(EvidenceType, rules.sniff(content) or "application/pdf")  # unknown bytes: the PDF check refuses them
    name = "".join(c for c in filename if c.isalnum() or c in "._- ")[:120] or "bukti"
    data = base64.b64encode(content).decode()  # at most EVIDENCE_MAX_BYTES: within the contract's 400,000
    return Evidence(filename=name, content_type=media, sha256=hashlib.sha256(content).hexdigest(), data=data)


_WHY_ID = {
    "OBJECTION_OPEN": "Masih ada sanggahan yang belum diputus untuk usulan ini.",
    "OBJECTIONS_EXHAUSTED": "Batas sanggahan untuk usulan ini sudah tercapai.",
    "NEWER_NOMINATION": "Orang ini sudah diusulkan lagi; ikuti usulan yang baru.",
    "REFUSED_BY_BPJS": "Pendaftaran yang ditolak BPJS diperbaiki dan dikirim ulang, bukan disanggah.",
    "NOT_DECIDED": "Hanya usulan yang ditolak atau kepesertaan yang berakhir dapat disanggah.",
    "OUT_OF_AREA": "Usulan ini di luar wilayah Anda.",
    "EVIDENCE_TOO_LARGE": "Berkas bukti paling besar 300 KB.",
    "EVIDENCE_TYPE": "Berkas bukti harus PDF, JPEG atau PNG.",
    "EVIDENCE_COUNT": "Paling banyak 2 berkas bukti.",
}


def _why(body: bytes | memoryview) -> str:
    code = str(orjson.loads(bytes(body)).get("code") or "")
    return _WHY_ID.get(code, "Sanggahan tidak dapat diterima. Periksa isian dan berkas bukti.")


@router.get("/calon")
async def leads_page(request: Request, deps: DepsDep, user: PortalUser, desa: str | None = None) -> Response:
    regions = default_regions()
    chosen = desa if desa and regions.is_level(desa, "desa_kelurahan") else None
    found = await messaging.run(deps, leads.list_leads, ListLeads(caller=user, desa_code=chosen))
    if isinstance(found, leads.OutOfArea):
        return problem(403, "The desa lies outside the area of this account", code="OUT_OF_AREA")
    area = user.area or deps.settings.programme_regency
    regency_wide = area.count(".") < 3  # a regency or kecamatan account chooses among its desa
    desa_list = regions.by_level("desa_kelurahan") if regency_wide else []
    choices = [r for r in desa_list if r.code.startswith(area + ".")]
    items = [
        {
            "id": str(r["id"]),
            "name": r["full_name"],
            "phone": r["phone"],
            "desa": _desa_name(regions, r["desa_code"]),
            "occupation": OCCUPATIONS.get(r["occupation"], r["occupation"]),
            "state": "diusulkan" if r["nominated"] else LEAD_STATE_ID.get(r["state"], r["state"]),
            "received_at": r["received_at"].strftime("%d-%m-%Y"),
        }
        for r in found
    ]
    return pages.render(
        ENV, request, "portal/calon.html.j2", who=user, items=items, choices=choices, chosen=chosen or ""
    )


def _desa_name(regions: RegionIndex, code: str) -> str:
    region = regions.get(code)
    return region.name if region else code


@router.post("/calon/{lead_id}", dependencies=CSRF)
async def mark_lead(lead_id: uuid.UUID, request: Request, deps: DepsDep, user: PortalUser) -> Response:
    async with request.form(max_files=0, max_fields=3) as form:
        state = str(form.get("tanda") or "")
    if state not in ("contacted", "nominated"):
        return problem(422, "the request is not valid", errors=[("tanda", "must be contacted or nominated")])
    mark = MarkLead(caller=user, lead_id=lead_id, state=cast(LeadMark, state))
    done = await messaging.run(deps, leads.mark, mark)
    if not done:
        return problem(404, "No such lead")
    return RedirectResponse("/portal/calon", status_code=303)
