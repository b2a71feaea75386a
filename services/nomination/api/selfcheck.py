"""The public self-check pages (no sign-in), in Bahasa Indonesia: ``/cek`` (NIK + birth date), ``/cek/kartu/<token>``
(a card's QR code), ``/cek/sanggah`` (an objection after a successful lookup) and ``/daftar`` (a lead).

Forms are CSRF-protected by the session cookie's token (shared/websession.py: the session exists without sign-in)
and need no script. A pair that matches nothing and a lookup refused by the budgets get the same page with the same
status code: a prober cannot tell a miss from a lock-out (docs/outreach.md). The objection form carries a signed,
short-lived reference of the nomination found (itsdangerous), never the NIK. Field errors name the field and never
repeat what was typed.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import UploadFile

from services.nomination.api.portal import ENV
from services.nomination.api.rest import DepsDep
from services.nomination.bootstrap import Deps
from services.nomination.commands import AskToBeConsidered, LookUp, ObjectFromSelfCheck, ReadCard
from services.nomination.domain import keywords, selfcheck
from services.nomination.domain.selfcheck import EVIDENCE_MAX_BYTES, OBJECTION_REASONS
from services.nomination.handlers import selfcheck as handlers
from services.nomination.handlers import selfservice
from shared import formats, messaging, pages, websession
from shared.cards.links import read_card_token
from shared.contracts import Evidence, ObjectionReason, SelfCheckStatus
from shared.formats import OCCUPATIONS
from shared.regions import default_regions

router = APIRouter(include_in_schema=False)
CSRF = [Depends(websession.csrf_protect)]
_REFERENCE_SALT = "payung-cek-sanggah-v1"
_REASON_CODES: tuple[ObjectionReason, ...] = get_args(ObjectionReason)


def _client(request: Request) -> str:
    """The client address as the edge counts it (shared/http.py: the connection's peer)."""
    return request.client.host if request.client else "unknown"


def _serializer(deps: Deps) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(deps.settings.person_key_secret, salt=_REFERENCE_SALT)


def _reference(deps: Deps, nomination_id: uuid.UUID) -> str:
    return str(_serializer(deps).dumps(str(nomination_id)))


def _read_reference(deps: Deps, token: str) -> uuid.UUID | None:
    if not token or len(token) > 200:
        return None
    try:
        value = _serializer(deps).loads(token, max_age=deps.settings.selfcheck_reference_max_age_s)
        return uuid.UUID(str(value))
    except (BadSignature, ValueError):
        return None


def _text(form: Any, name: str, max_chars: int) -> str | None:
    value = form.get(name)
    if not isinstance(value, str) or len(value) > max_chars:
        return None
    return value.strip()


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return pages.render(ENV, request, f"cek/{name}", status=status, errors=context.pop("errors", {}), **context)


def _status_page(request: Request, status: SelfCheckStatus | None, reference: str | None = None) -> Response:
    if status is None:
        return _page(request, "hasil.html.j2", answer=None)
    return _page(
        request,
        "hasil.html.j2",
        answer=status,
        title=selfcheck.STATE_TITLE[status.state],
        lines=selfcheck.lines(status),
        reference=reference if selfcheck.objectable(status) else None,
        objection_reasons=list(OBJECTION_REASONS.items()),
    )


def _message(request: Request, title: str, *lines: str, status: int = 200, back: str = "/cek") -> Response:
    return _page(request, "pesan.html.j2", status=status, title=title, lines=list(lines), back=back)


# ------------------------------------------------------------------------------------------------- /cek
@router.get("/cek")
async def form(request: Request) -> Response:
    return _page(request, "cek.html.j2")


def parse_birth_date(value: str) -> date | None:
    """The form's ``type=date`` value (YYYY-MM-DD), or what a person types (DD-MM-YYYY, DD/MM/YYYY, DDMMYYYY)."""
    try:
        return date.fromisoformat(value) if len(value) == 10 and value[4] == "-" else keywords.parse_birth_date(value)
    except ValueError:
        return None


@router.post("/cek", dependencies=CSRF)
async def look_up(request: Request, deps: DepsDep) -> Response:
    data = await request.form(max_files=0, max_fields=10)
    nik = keywords.parse_nik(_text(data, "nik", 40) or "")
    born = parse_birth_date(_text(data, "tanggal_lahir", 20) or "")
    errors = {}
    if nik is None:
        errors["nik"] = "NIK harus 16 angka sesuai KTP."
    if born is None or born > formats.local_today() or born.year < 1900:
        errors["tanggal_lahir"] = "Tulis tanggal lahir yang benar, misalnya 05-01-1990."
    if errors or nik is None or born is None:
        return _page(request, "cek.html.j2", status=422, errors=errors)
    source = handlers.source_of(deps.settings, "ip", _client(request))
    command = LookUp(channel="web", source_hash=source, nik=nik, birth_date=born)
    answer = await messaging.run(deps, handlers.look_up, command)
    if answer.status is None or answer.nomination_id is None:  # a miss and a lock-out look the same
        return _status_page(request, None)
    return _status_page(request, answer.status, _reference(deps, answer.nomination_id))


@router.get("/cek/kartu/{token}")
async def card(token: str, request: Request, deps: DepsDep) -> Response:
    nomination_id = read_card_token(token)
    status = None
    if nomination_id is not None:
        source = handlers.source_of(deps.settings, "ip", _client(request))
        status = await messaging.run(
            deps, handlers.read_card, ReadCard(nomination_id=nomination_id, source_hash=source)
        )
    if status is None:
        return _message(request, "Kartu tidak ditemukan", "Tautan kartu ini tidak dikenali.", status=404)
    return _status_page(request, status)


# ---------------------------------------------------------------------------------------------- /cek/sanggah
@router.post("/cek/sanggah", dependencies=CSRF)
async def object_to(request: Request, deps: DepsDep) -> Response:
    async with request.form(max_files=1, max_fields=10, max_part_size=EVIDENCE_MAX_BYTES + 1024) as data:
        nomination_id = _read_reference(deps, _text(data, "ref", 200) or "")
        code = _text(data, "alasan", 40)
        text = _text(data, "keterangan", 1000)
        upload = data.get("bukti")
        content = await upload.read(EVIDENCE_MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""
        filename = (upload.filename or "bukti") if isinstance(upload, UploadFile) else ""
    if nomination_id is None:
        return _message(
            request, "Sesi cek sudah berakhir", "Ulangi cek kepesertaan, lalu ajukan sanggahan lagi.", status=400
        )
    reason = next((c for c in _REASON_CODES if c == code), None)
    proof: tuple[Evidence, ...] = ()
    problems = []
    if reason is None:
        problems.append("Pilih salah satu alasan sanggahan.")
    if text is None:
        problems.append("Keterangan paling banyak 1000 huruf.")
    if content:
        found = selfcheck.evidence(filename, content)
        if isinstance(found, str):
            problems.append(found)
        else:
            proof = (found,)
    if problems or reason is None:
        return _message(request, "Sanggahan belum terkirim", *problems, status=422)
    command = ObjectFromSelfCheck(
        nomination_id=nomination_id, channel="web", reason_code=reason, reason_text=text or "", evidence=proof
    )
    filed = await messaging.run(deps, handlers.object_to, command)
    if isinstance(filed, selfservice.Filed):
        return _message(
            request,
            "Sanggahan diterima",
            f"Nomor sanggahan: {filed.objection_id}.",
            f"Status: {selfcheck.OBJECTION_STATE.get(filed.state, filed.state)}.",
            f"Diputuskan paling lambat {selfcheck.tanggal(filed.due_by)}. Anda akan dikabari lewat SMS atau WhatsApp.",
        )
    if filed.reason == "not_objectable":
        return _message(
            request, "Sanggahan tidak dapat diajukan", "Sudah ada sanggahan yang sedang diperiksa.", status=409
        )
    return _message(request, "Layanan belum tersedia", "Coba lagi nanti atau hubungi Disnaker.", status=503)


# --------------------------------------------------------------------------------------------------- /daftar
def _desa_groups(regency: str) -> list[tuple[str, list[tuple[str, str]]]]:
    regions = default_regions()
    groups = []
    for kecamatan in sorted(regions.children(regency), key=lambda r: r.name):
        desa = sorted(regions.children(kecamatan.code), key=lambda r: r.name)
        groups.append((kecamatan.name, [(d.code, d.name) for d in desa if d.level == "desa_kelurahan"]))
    return groups


def _lead_form(request: Request, deps: Deps, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    groups = _desa_groups(deps.settings.programme_regency)
    return _page(
        request, "daftar.html.j2", status=status, errors=errors or {}, desa_groups=groups, occupations=OCCUPATIONS
    )


@router.get("/daftar")
async def lead_form(request: Request, deps: DepsDep) -> Response:
    return _lead_form(request, deps)


@router.post("/daftar", dependencies=CSRF)
async def ask(request: Request, deps: DepsDep) -> Response:
    data = await request.form(max_files=0, max_fields=10)
    regency = deps.settings.programme_regency
    name = keywords.clean_name(_text(data, "nama", 120) or "")
    desa = _text(data, "desa", 20) or ""
    occupation = _text(data, "pekerjaan", 40) or ""
    errors = {}
    if name is None:
        errors["nama"] = "Tulis nama lengkap dengan huruf (paling banyak 120)."
    if not (default_regions().is_level(desa, "desa_kelurahan") and desa.startswith(regency + ".")):
        errors["desa"] = "Pilih desa atau kelurahan dari daftar."
    try:
        phone = formats.mobile_number(_text(data, "hp", 20) or "")
    except formats.InvalidFormat:
        errors["hp"] = "Tulis nomor HP yang aktif, misalnya 0812xxxxxxxx."
        phone = ""
    if occupation not in OCCUPATIONS:
        errors["pekerjaan"] = "Pilih pekerjaan dari daftar."
    if errors or name is None:
        return _lead_form(request, deps, status=422, errors=errors)
    command = AskToBeConsidered(desa_code=desa, full_name=name, phone=phone, occupation=occupation, channel="web")
    taken = await messaging.run(deps, handlers.ask, command)
    if isinstance(taken, selfservice.LeadTaken):
        return _message(
            request,
            "Terima kasih",
            "Data Anda sudah kami terima. Perangkat desa Anda akan menghubungi Anda untuk memeriksa dan mengusulkan.",
            back="/daftar",
        )
    if taken.reason == "invalid":
        return _lead_form(request, deps, status=422, errors={"nama": "Data belum dapat diterima; periksa isian."})
    return _message(request, "Layanan belum tersedia", "Coba lagi nanti atau hubungi perangkat desa.", status=503)
