"""Self-check ("Cek kepesertaan"): what a person may learn of their own nomination or cover, and nothing more.

Pure functions: which of a NIK's nominations answers (the live one, else the newest), the ``SelfCheckStatus`` it
shows, and the plain Bahasa Indonesia texts of that status. The lookup itself, its limits and its audit are the
handler's (handlers/selfcheck.py); the limit arithmetic is ``domain.limits``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from babel.dates import format_date

from services.nomination.domain import Progress, sniff
from shared import reasons
from shared.contracts import Evidence, ObjectionReason, ObjectionState, SelfCheckStatus

# Outcomes that keep a nomination live (the partial unique index of migration 0003: one per person).
LIVE_OUTCOMES = frozenset({None, "waitlisted", "enrolled"})
# What an objection may be filed against (contracts.ObjectionGround): a rejection or BPJS's refusal, an ended cover.
OBJECTABLE = frozenset({"not_eligible", "ended"})


@dataclass(frozen=True)
class Candidate:
    """One nomination of the NIK looked up, as the repository reads it."""

    nomination_id: uuid.UUID
    birth_date: date
    outcome: str | None
    progress: Progress
    submitted_at: datetime


class OpenObjection(Protocol):
    """The latest objection of a nomination (``domain.objections.ObjectionSummary`` has these attributes)."""

    @property
    def objection_id(self) -> uuid.UUID: ...

    @property
    def state(self) -> ObjectionState: ...

    @property
    def due_by(self) -> date: ...


def choose(candidates: Sequence[Candidate], birth_date: date) -> Candidate | None:
    """The nomination that answers a NIK + birth date: among those with that birth date, the live one, else the
    newest; None when the pair matches nothing (the caller says nothing more)."""
    matching = [c for c in candidates if c.birth_date == birth_date]
    if not matching:
        return None
    live = [c for c in matching if c.outcome in LIVE_OUTCOMES]
    return max(live or matching, key=lambda c: c.submitted_at)


def status_of(
    progress: Progress,
    *,
    covered_since: date | None = None,
    covered_until: date | None = None,
    objection: OpenObjection | None = None,
) -> SelfCheckStatus:
    """The status a self-check shows for one nomination. ``covered_since``/``covered_until`` are the cover's dates
    the history recorded (EnrolmentConfirmed.coverage_start, EnrolmentEnded.coverage_end)."""
    status = _status(progress, covered_since, covered_until)
    if objection is None:
        return status
    update = {"objection_id": objection.objection_id, "objection_state": objection.state}
    return status.model_copy(update=update | {"objection_due_by": objection.due_by})


def _status(progress: Progress, covered_since: date | None, covered_until: date | None) -> SelfCheckStatus:
    match progress.outcome:
        case "waitlisted":
            return SelfCheckStatus(state="waitlisted", waitlist_position=progress.waitlist_position)
        case "enrolled":
            return SelfCheckStatus(
                state="covered",
                membership_number=progress.membership_number,
                covered_since=covered_since,
            )
        case "rejected":
            codes = tuple(str(r.get("code")) for r in progress.reasons if r.get("code"))
            return SelfCheckStatus(state="not_eligible", reason_codes=codes or ("REJECTED",))
        case "refused":
            return SelfCheckStatus(state="not_eligible", reason_codes=(refusal_code(progress),))
        case "ended":
            return SelfCheckStatus(
                state="ended",
                membership_number=progress.membership_number,
                covered_since=covered_since,
                covered_until=covered_until,
                reason_codes=(progress.end_reason,) if progress.end_reason else (),
            )
    if progress.verified:
        return SelfCheckStatus(state="verified")
    return SelfCheckStatus(state="in_process")


def refusal_code(progress: Progress) -> str:
    """``BPJS_REFUSED:<BPJS's code>`` (Progress keeps BPJS's code as ``bpjs_refused:<code>``)."""
    code = (progress.end_reason or "").removeprefix("bpjs_refused:")
    return f"BPJS_REFUSED:{code}" if code else "BPJS_REFUSED"


def objectable(status: SelfCheckStatus) -> bool:
    """The page offers "Ajukan sanggahan" on a not-eligible or ended answer without an undecided objection."""
    open_objection = status.objection_state in ("received", "in_review")
    return status.state in OBJECTABLE and not open_objection


# ------------------------------------------------------------------------------------------------ Bahasa texts
STATE_TITLE = {
    "in_process": "Usulan Anda sedang diproses",
    "verified": "Data Anda sudah terverifikasi",
    "waitlisted": "Anda masuk daftar tunggu",
    "covered": "Anda terdaftar sebagai peserta BPJS Ketenagakerjaan",
    "not_eligible": "Usulan Anda belum dapat diterima",
    "ended": "Kepesertaan Anda sudah berakhir",
}
OBJECTION_STATE = {
    "received": "diterima, menunggu pemeriksaan",
    "in_review": "sedang diperiksa petugas",
    "upheld": "diterima (dikabulkan)",
    "dismissed": "ditolak",
}
END_REASON = {
    "deceased": "Peserta tercatat meninggal dunia.",
    "moved_out": "Peserta tercatat pindah ke luar wilayah program.",
    "became_wage_earner": "Peserta tercatat sudah menjadi pekerja penerima upah (punya pemberi kerja).",
    "opted_out": "Peserta mengundurkan diri dari program.",
    "contributions_unpaid": "Iuran tidak terbayar lebih dari 3 bulan berturut-turut.",
    "not_renewed": "Kepesertaan tidak diperpanjang pada tahun program baru.",
    "inactive": "Kepesertaan tercatat tidak aktif.",
}
_BPJS_REFUSED = (
    "BPJS Ketenagakerjaan belum dapat mendaftarkan Anda (misalnya sudah terdaftar sebagai pekerja penerima upah). "
    "Hubungi perangkat desa atau Disnaker dengan membawa KTP."
)


def explain(code: str) -> str:
    """What a not-eligible or ended reason means and what to do, in plain Bahasa Indonesia."""
    if code.startswith("BPJS_REFUSED"):
        return _BPJS_REFUSED
    if code in END_REASON:
        return END_REASON[code] + " Jika ini keliru, ajukan sanggahan."
    if code == "REJECTED":
        return "Hubungi perangkat desa atau Disnaker untuk penjelasan."
    return reasons.fix_text(code)


def tanggal(value: date) -> str:
    """``5 Januari 2026``."""
    return format_date(value, format="d MMMM y", locale="id")


def lines(status: SelfCheckStatus) -> list[str]:
    """The status in a few short Bahasa sentences (the page; notification words its own SMS from the fields)."""
    out: list[str] = []
    match status.state:
        case "in_process":
            out.append("Usulan Anda sudah diterima dan sedang diperiksa petugas. Tidak perlu melakukan apa pun.")
        case "verified":
            out.append("Data Anda cocok dengan data kependudukan. Tunggu keputusan pendaftaran BPJS Ketenagakerjaan.")
        case "waitlisted":
            position = f" nomor {status.waitlist_position}" if status.waitlist_position else ""
            out.append(f"Kuota peserta sedang penuh. Anda di daftar tunggu{position}; Anda dikabari bila ada kursi.")
        case "covered":
            if status.membership_number:
                out.append(f"Nomor kepesertaan (KPJ): {status.membership_number}.")
            if status.covered_since:
                out.append(f"Terlindungi sejak {tanggal(status.covered_since)} (JKK dan JKM).")
            out.append("Bila terjadi kecelakaan kerja, laporkan ke BPJS Ketenagakerjaan paling lambat 2 x 24 jam.")
        case "not_eligible":
            out.extend(explain(code) for code in status.reason_codes)
            out.append(
                "Yang dapat Anda lakukan: bawa KTP dan Kartu Keluarga ke kantor desa yang mengusulkan Anda; "
                "bila keputusan ini keliru, ajukan sanggahan."
            )
        case "ended":
            if status.covered_until:
                out.append(f"Terlindungi sampai {tanggal(status.covered_until)}.")
            out.extend(explain(code) for code in status.reason_codes)
    if status.objection_state:
        text = f"Sanggahan Anda: {OBJECTION_STATE[status.objection_state]}"
        if status.objection_due_by and status.objection_state in ("received", "in_review"):
            text += f"; diputuskan paling lambat {tanggal(status.objection_due_by)}"
        out.append(text + ".")
    return out


# ------------------------------------------------------------------------------------------------ evidence
EVIDENCE_MAX_BYTES = 300 * 1024
OBJECTION_REASONS: dict[ObjectionReason, str] = {
    "data_corrected": "Data saya di Disdukcapil atau KK sudah diperbaiki",
    "not_duplicate": "Saya bukan orang yang sama dengan data lain (bukan data ganda)",
    "still_eligible": "Saya masih pekerja informal dan tinggal di wilayah ini",
    "not_deceased": "Saya masih hidup (tercatat meninggal)",
    "not_moved": "Saya tidak pindah (tercatat pindah)",
    "other": "Alasan lain",
}


def evidence(filename: str, content: bytes, max_bytes: int = EVIDENCE_MAX_BYTES) -> Evidence | str:
    """The objection's evidence file as the contract carries it, or why not (Bahasa, never the content)."""
    if len(content) > max_bytes:
        return f"Bukti terlalu besar: paling besar {max_bytes // 1024} KB."
    media_type = sniff(content)
    if media_type is None:
        return "Bukti harus berupa PDF, JPEG atau PNG."
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename)[-120:] or "bukti"
    return Evidence(
        filename=name,
        content_type=media_type,  # type: ignore[arg-type]  # sniff returns one of EvidenceType's values
        sha256=hashlib.sha256(content).hexdigest(),
        data=base64.b64encode(content).decode("ascii"),
    )
