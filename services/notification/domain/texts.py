"""The words of the messages: template versions, subjects, explanations, dates and names in Bahasa Indonesia."""

from __future__ import annotations

import uuid
from datetime import date

from services.notification.domain import replytexts
from shared import reasons as reason_catalogue
from shared.regions import RegionIndex

# The template version new deliveries use; older versions stay on disk so a stored delivery can be explained.
# ``contact_invalid`` is the note to the nominator when the beneficiary's phone is unusable (stored under the
# purpose of the event it is about, recipient role nominator).
TEMPLATE_VERSIONS: dict[str, int] = {
    "enrolment_confirmed": 1,
    "enrolment_waitlisted": 1,
    "enrolment_promoted": 1,
    "identity_rejected": 1,
    "enrolment_ended": 1,
    "death_benefit_information": 1,
    "enrolment_refused": 1,
    "contact_invalid": 1,
    "daily_digest": 1,
    "membership_card": 1,
    "claim_reminder": 1,  # issue 15: how to claim, at cover start and yearly (domain/claims.py)
    "quota_shortfall": 1,  # issue 15: a funding source will not fill (domain/shortfall.py)
    **replytexts.TEMPLATE_VERSIONS,  # keyword replies, objections, leads (issue 15)
}
DIGEST = "daily_digest"  # the purpose of a digest delivery (not a contract purpose: it emits no event)
SUBJECTS: dict[str, str] = {
    "enrolment_confirmed": "Anda terdaftar BPJS Ketenagakerjaan",
    "enrolment_waitlisted": "Usulan BPJS Ketenagakerjaan: daftar tunggu",
    "enrolment_promoted": "Anda terdaftar BPJS Ketenagakerjaan (dari daftar tunggu)",
    "identity_rejected": "Usulan BPJS Ketenagakerjaan tidak lolos verifikasi",
    "enrolment_ended": "Kepesertaan BPJS Ketenagakerjaan berakhir",
    "death_benefit_information": "Santunan kematian BPJS Ketenagakerjaan untuk ahli waris",
    "enrolment_refused": "Pendaftaran BPJS Ketenagakerjaan ditolak BPJS",
    DIGEST: "Ringkasan harian usulan BPJS Ketenagakerjaan",
    "membership_card": "Kartu peserta BPJS Ketenagakerjaan Anda",
    "claim_reminder": "Cara klaim BPJS Ketenagakerjaan (JKK dan JKM)",
    "quota_shortfall": "Kursi BPJS Ketenagakerjaan belum terisi: mohon usulkan pekerja rentan",
    **replytexts.SUBJECTS,
}

# Why coverage ended, in the words the beneficiary reads (EnrolmentEnded.reason).
END_REASONS_ID: dict[str, str] = {
    "moved_out": "pindah ke luar wilayah program",
    "became_wage_earner": "sudah menjadi pekerja penerima upah",
    "opted_out": "atas permintaan sendiri",
    "contributions_unpaid": "iuran tertunggak lebih dari 3 bulan",
    "not_renewed": "tidak diperpanjang tahun ini",
    "inactive": "NIK tidak aktif di Dukcapil",
    "deceased": "peserta meninggal dunia",
}

JKM_DEATH_BENEFIT = "Rp42 juta"  # Rp20m lump sum + Rp12m periodic + Rp10m funeral (DOMAIN.md)
BPJS_CALL_CENTRE = "175"

# How to fix each rejection reason, told to the nominator in plain Bahasa Indonesia: the one catalogue in
# shared.reasons (the verification service decides with the same codes).
REASON_EXPLANATIONS: dict[str, str] = {code: r.fix_id for code, r in reason_catalogue.REASONS.items()}
GENERIC_EXPLANATION = reason_catalogue.fix_text("")

MONTHS_ID = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


def explain_reasons(codes: list[str]) -> list[dict[str, str]]:
    """Each distinct reason code once, in the order given, with how to fix it (unknown codes get the fallback)."""
    seen: dict[str, dict[str, str]] = {}
    for code in codes:
        if code not in seen:
            seen[code] = {"code": code, "explanation": reason_catalogue.fix_text(code)}
    return list(seen.values())


def short_reference(nomination_id: uuid.UUID) -> str:
    """The first 8 hex digits of the nomination id: enough for a nominator to find it in the nomination screens."""
    return nomination_id.hex[:8].upper()


def village_name(desa_code: str, regions: RegionIndex) -> str:
    """``Desa Samurangau`` / ``Kelurahan Sangatta Utara`` (village codes 1xxx are kelurahan), or the bare code."""
    region = regions.get(desa_code)
    if region is None or region.level != "desa_kelurahan":
        return desa_code
    kind = "Kelurahan" if desa_code.rsplit(".", 1)[-1].startswith("1") else "Desa"
    return f"{kind} {region.name}"


def format_date_id(value: date) -> str:
    """``1 Desember 2026``."""
    return f"{value.day} {MONTHS_ID[value.month - 1]} {value.year}"
