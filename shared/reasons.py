"""The one catalogue of decision codes: contract data shared by every service that explains a decision.

Each code has an English description for staff and logs, and ``fix_id``: a short Bahasa Indonesia text telling the
village official (RT, desa, Disnaker field officer) what to correct before nominating again (the portal shows it,
notification words its messages with it). How severe a code is (reject, flag, review) is verification's policy:
services/verification/domain/severities.py.
Codes are stable identifiers that travel in events (``Reason.code``): add codes, never rename or reuse one.
Nothing here decides anything: the verification service decides, the notification service words the messages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReasonInfo:
    code: str
    description: str  # English, for staff
    fix_id: str  # Bahasa Indonesia, for the nominating official: what to do


def _r(code: str, description: str, fix_id: str) -> ReasonInfo:
    return ReasonInfo(code, description, fix_id)


REASONS: dict[str, ReasonInfo] = {
    r.code: r
    for r in (
        # ---------------------------------------------------------------------------------- rejections
        _r(
            "NIK_INVALID",
            "The NIK is not a valid NIK: 16 digits, a valid encoded birth date, a known province and regency.",
            "NIK tidak sah. Periksa kembali 16 angka NIK sesuai KTP atau Kartu Keluarga, lalu ajukan ulang.",
        ),
        _r(
            "PHONE_INVALID",
            "The phone number is not a valid Indonesian mobile number.",
            "Nomor HP tidak sah. Tulis nomor HP aktif (08xx, 10 sampai 13 angka), lalu ajukan ulang.",
        ),
        _r(
            "AGE_OUT_OF_RANGE",
            "The person's age is outside the programme's age limits.",
            "Umur di luar batas program. Periksa tanggal lahir; jika benar, orang ini tidak dapat didaftarkan.",
        ),
        _r(
            "OCCUPATION_NOT_INFORMAL",
            "The occupation is not one of the programme's informal-worker categories.",
            "Pekerjaan bukan pekerja rentan/informal yang dibiayai program. Periksa pekerjaan yang diisi.",
        ),
        _r(
            "LETTER_MISSING",
            "An RT or desa nomination without its supporting letter (surat keterangan).",
            "Surat keterangan belum ada. Lampirkan nomor, tanggal dan pejabat penerbit surat, lalu ajukan ulang.",
        ),
        _r(
            "DUPLICATE_PERSON",
            "The same person (NIK) is already verified, in review or waiting, whichever funding source pays.",
            "Orang ini sudah terdaftar atau sedang diperiksa (data ganda). Tidak perlu diajukan lagi.",
        ),
        _r(
            "REGISTRY_NOT_FOUND",
            "The NIK is not in the civil registry.",
            "NIK tidak ditemukan di Dukcapil. Cocokkan NIK dengan KTP/KK; bila benar, minta warga ke Disdukcapil.",
        ),
        _r(
            "DECEASED",
            "The civil registry records the person as deceased.",
            "Menurut Dukcapil orang ini sudah meninggal. Bila keliru, warga perlu memperbaiki data di Disdukcapil.",
        ),
        _r(
            "INACTIVE",
            "The person's civil registry record is inactive.",
            "Data kependudukan orang ini tidak aktif. Minta warga mengaktifkan NIK di Disdukcapil, lalu ajukan ulang.",
        ),
        _r(
            "OUTSIDE_PROGRAMME_REGENCY",
            "The residence recorded in the civil registry is outside the programme's regency.",
            "Menurut Dukcapil orang ini tidak tinggal di kabupaten ini. Program hanya untuk penduduk kabupaten ini.",
        ),
        _r(
            "NAME_MISMATCH",
            "The stated name does not match the civil registry's name closely enough.",
            "Nama tidak sama dengan data Dukcapil. Tulis nama lengkap persis seperti di KTP, lalu ajukan ulang.",
        ),
        _r(
            "BIRTH_DATE_MISMATCH",
            "The stated birth date differs from the civil registry's.",
            "Tanggal lahir tidak sama dengan data Dukcapil. Tulis tanggal lahir seperti di KTP, lalu ajukan ulang.",
        ),
        _r(
            "WAGE_EARNER",
            "The person is an active BPJS Ketenagakerjaan participant as a wage earner (employed).",
            "Orang ini sudah peserta BPJS Ketenagakerjaan sebagai pekerja penerima upah, jadi tidak dapat didaftarkan.",
        ),
        _r(
            "REVIEW_REJECTED",
            "A Disnaker verifier reviewed the case and rejected it.",
            "Petugas Disnaker menolak setelah pemeriksaan. Hubungi Disnaker untuk penjelasan sebelum mengajukan ulang.",
        ),
        # --------------------------------------------------------------------------------------- flags
        _r(
            "NIK_KECAMATAN_UNKNOWN",
            "The kecamatan code in the NIK is not in the official region list (it may predate a boundary change).",
            "Kode kecamatan pada NIK tidak dikenal. Tidak perlu tindakan bila NIK sudah sesuai KTP.",
        ),
        _r(
            "NIK_REGENCY_UNKNOWN",
            "The regency code in the NIK is not in the national region list: a code that has since moved (Kalimantan "
            "Utara 2012, Papua 2022) or a typing error; the civil registry decides whether the NIK exists.",
            "Kode kabupaten pada NIK tidak ada di daftar wilayah terbaru. Tidak perlu tindakan bila NIK sesuai KTP.",
        ),
        _r(
            "NIK_BIRTHDATE_MISMATCH",
            "The birth date or sex encoded in the NIK differs from the stated one (a NIK is never re-issued).",
            "Tanggal lahir/jenis kelamin pada NIK berbeda dengan yang diisi. Pastikan tanggal lahir sesuai KTP.",
        ),
        _r(
            "SEX_MISMATCH",
            "The stated sex differs from the civil registry's.",
            "Jenis kelamin berbeda dengan data Dukcapil. Periksa isian jenis kelamin.",
        ),
        # -------------------------------------------------------------------------------------- review
        _r(
            "POSSIBLE_DUPLICATE",
            "A different NIK, but probably the same person as someone already verified (name, birth date, KK, desa).",
            "Kemungkinan data ganda dengan NIK lain. Petugas Disnaker akan memeriksa; siapkan KTP dan KK warga.",
        ),
    )
}


def info(code: str) -> ReasonInfo:
    """The catalogue entry of ``code``; ``KeyError`` for a code nobody agreed on."""
    try:
        return REASONS[code]
    except KeyError:
        raise KeyError(f"reason code {code!r} is not in shared.reasons.REASONS") from None


def fix_text(code: str) -> str:
    """The Bahasa Indonesia advice for the nominating official; unknown codes get a generic text."""
    entry = REASONS.get(code)
    return entry.fix_id if entry else "Data belum dapat diterima. Hubungi Disnaker untuk penjelasan."
