"""The portal's spreadsheet upload pages (docs/portal.md): the form, a job's progress, its per-row XLSX report.

``POST /portal/unggah`` takes the file as a multipart form (field ``berkas``) or as the raw body, bounded by the
edge (``upload_max_bytes`` in app.py's body_limits) and checked again here; its kind is decided by content. The
nominator and the letter come from the form or, in an XLSX made from the template, its ``pengusul`` sheet (the
form wins), as ``payung import`` takes them from its options or that sheet. The rows are sent in the background
(the ``uploads`` job, handlers/uploads.py); the progress page refreshes itself with a meta refresh (no script:
the CSP forbids inline script and none is needed).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.nomination.api import rules
from services.nomination.api.portal import CSRF, ENV, PortalUser
from services.nomination.api.rest import DepsDep
from services.nomination.commands import CreateUpload, ReadUpload, RefuseUpload
from services.nomination.handlers import uploads
from shared import messaging, pages
from shared.auth import Principal
from shared.http import problem
from shared.sheets import files as sheet_files
from shared.sheets import read as sheet_read
from shared.sheets import rows as sheets

router = APIRouter(prefix="/portal", include_in_schema=False)
FORM_FIELDS = ("nama_pengusul", "hp_pengusul", "nomor_surat", "tanggal_surat", "penandatangan_surat")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/unggah")
async def upload_page(request: Request, user: PortalUser) -> Response:
    return pages.render(ENV, request, "portal/unggah.html.j2", who=user, values={}, error=None)


@router.get("/unggah/templat.xlsx")
async def template(deps: DepsDep, user: PortalUser) -> Response:
    """The import template, its desa list limited to the account's area."""
    area = user.area or deps.settings.programme_regency
    files = await asyncio.to_thread(sheet_files.template_files, area)
    disposition = 'attachment; filename="nominasi-template.xlsx"'
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return Response(files["nominasi-template.xlsx"], media_type=XLSX, headers=headers)


@router.post("/unggah", dependencies=CSRF)
async def upload(request: Request, deps: DepsDep, user: PortalUser) -> Response:
    settings = deps.settings
    values: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # the context closes the spooled temporary file of the upload (left open, it leaks until collected)
        async with request.form(max_files=1, max_fields=20) as form:
            sent = form.get("berkas")
            content = await sent.read() if isinstance(sent, UploadFile) else b""
            values = {k: str(form.get(k) or "").strip() for k in FORM_FIELDS}
    else:
        content = await request.body()
        values = {k: request.query_params.get(k, "").strip() for k in FORM_FIELDS}

    async def refuse(status: int, code: str, message: str) -> Response:
        # a refused upload is audited too (its code and size, never its content)
        await messaging.run(deps, uploads.refuse, RefuseUpload(caller=user, code=code, size_bytes=len(content)))
        page = pages.render(
            ENV, request, "portal/unggah.html.j2", status=status, who=user, values=values, error=message
        )
        page.headers["X-Payung-Code"] = code
        return page

    if len(content) > settings.upload_max_bytes:
        return await refuse(413, "SHEET_TOO_LARGE", f"Berkas lebih dari {settings.upload_max_bytes // 1024} KiB")
    try:
        kind, sheet = await asyncio.to_thread(_parse, content, settings.upload_max_rows)
        sheet_batch = await asyncio.to_thread(sheet_read.read_batch, content) if kind == "xlsx" else {}
    except sheet_read.SheetRefused as exc:
        status = 415 if exc.code == "SHEET_TYPE" else 413 if exc.code == "SHEET_TOO_LARGE" else 422
        return await refuse(status, exc.code, exc.message)
    batch = _batch(user, settings.programme_regency, {**sheet_batch, **{k: v for k, v in values.items() if v}})
    if isinstance(batch, str):
        return await refuse(422, "BATCH_INVALID", batch)
    command = CreateUpload(caller=user, content=content, kind=kind, sheet=sheet, batch=batch)
    job_id, _ = await messaging.run(deps, uploads.create, command)
    deps.uploads_waiting.set()  # the uploads job sends the rows now rather than at its next round
    return RedirectResponse(f"/portal/unggah/{job_id}", status_code=303)


def _parse(content: bytes, max_rows: int) -> tuple[str, sheets.Sheet]:
    """The file's kind and rows, or SheetRefused (CPU-bound: run in a thread)."""
    kind = sheet_read.kind_of(content)
    sheet = sheet_read.read_sheet(content, kind, max_rows)
    if not sheet.rows:
        raise sheet_read.SheetRefused("SHEET_EMPTY", "Berkas tidak berisi baris data")
    return kind, sheet


def _batch(user: Principal, regency: str, fields: dict[str, str]) -> sheets.Batch | str:
    """Who nominates and the letter, or why not (in Bahasa). The type follows the account (a desa or kecamatan
    account nominates as its desa's officials, each row as its own desa's; programme staff as Disnaker)."""
    claim = rules.nominator(user, regency)
    ntype = fields.get("jenis_pengusul") if fields.get("jenis_pengusul") in ("rt", "desa") else None
    ntype = ntype if ntype and claim["type"] != "disnaker" else claim["type"]
    name = fields.get("nama_pengusul", "")
    if not name:
        return "Isi nama pengusul (atau lembar pengusul pada templat)"
    nominator: dict[str, Any] = {"type": ntype, "name": name, "region_code": claim["region_code"]}
    if fields.get("hp_pengusul"):
        nominator["phone"] = fields["hp_pengusul"]
    letter = None
    number, when, issuer = (fields.get(k, "") for k in ("nomor_surat", "tanggal_surat", "penandatangan_surat"))
    if number or when or issuer or ntype != "disnaker":
        if not (number and when and issuer):
            return "Isi nomor, tanggal dan penandatangan surat keterangan"
        try:
            date.fromisoformat(when)
        except ValueError:
            return "Tanggal surat harus TTTT-BB-HH"
        letter = {"number": number, "date": when, "issuer": issuer}
    return sheets.Batch(nominator, letter)


@router.get("/unggah/{job_id}")
async def progress(job_id: uuid.UUID, request: Request, deps: DepsDep, user: PortalUser) -> Response:
    job = await messaging.run(deps, uploads.read, ReadUpload(caller=user, job_id=job_id))
    if job is None:
        return problem(404, "No such upload")
    return pages.render(ENV, request, "portal/unggah-status.html.j2", who=user, job=job)


@router.get("/unggah/{job_id}/laporan.xlsx")
async def report(job_id: uuid.UUID, deps: DepsDep, user: PortalUser) -> Response:
    found = await uploads.report(deps, ReadUpload(caller=user, job_id=job_id))
    if found is None:
        return problem(404, "No such upload")
    job, body = found
    if job.purged:
        return problem(410, "The report was deleted after the retention period", code="UPLOAD_PURGED")
    headers = {
        "Content-Disposition": f'attachment; filename="laporan-{job_id}.xlsx"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, media_type=XLSX, headers=headers)
