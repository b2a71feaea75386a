"""The Sanggahan pages' words: Bahasa Indonesia for officials, English with ``?lang=en`` (as the dashboard does)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["id", "en"]

TEXT: dict[str, tuple[str, str]] = {
    "queue_title": ("Sanggahan terbuka", "Open objections"),
    "queue_caption": (
        "sanggahan, diurutkan menurut batas waktu (paling lama dulu)",
        "objections, by deadline (oldest first)",
    ),
    "due": ("Batas waktu", "Deadline"),
    "objection": ("Sanggahan", "Objection"),
    "about": ("Atas", "About"),
    "desa": ("Desa", "Village"),
    "state": ("Status", "State"),
    "overdue": ("lewat batas waktu", "overdue"),
    "none_open": ("Tidak ada sanggahan terbuka.", "No open objections."),
    "saved": ("Keputusan sanggahan tersimpan.", "The decision is saved."),
    "name": ("Nama", "Name"),
    "filed_by": ("Diajukan oleh", "Filed by"),
    "beneficiary": ("penerima manfaat", "beneficiary"),
    "nominator": ("pengusul", "nominator"),
    "reason": ("Alasan", "Reason"),
    "text": ("Keterangan", "Statement"),
    "evidence": ("Bukti", "Evidence"),
    "no_evidence": ("Tidak ada bukti.", "No evidence."),
    "download_note": ("diunduh, tidak dibuka di sini", "downloaded, never opened here"),
    "objected": ("Keputusan yang disanggah", "The decision objected to"),
    "outcome": ("Hasil", "Outcome"),
    "no_reasons": ("Tanpa alasan penolakan (kepesertaan diakhiri).", "No rejection reasons (cover was ended)."),
    "earlier_review": ("Temuan tinjauan sebelumnya", "Earlier review finding"),
    "checks": ("Pemeriksaan", "Checks"),
    "layer": ("Lapisan", "Layer"),
    "check": ("Pemeriksaan", "Check"),
    "result": ("Hasil", "Result"),
    "take_up": ("Ambil untuk ditinjau", "Take up for review"),
    "decision": ("Keputusan", "Decision"),
    "verdict": ("Putusan", "Verdict"),
    "uphold_rejected": (
        "Kabulkan (verifikasi diulang dengan data Dukcapil terbaru)",
        "Uphold (verification re-run with fresh registry data)",
    ),
    "uphold_ended": ("Kabulkan (kepesertaan dipulihkan)", "Uphold (cover restored)"),
    "dismiss": ("Tolak sanggahan", "Dismiss"),
    "note": ("Catatan untuk pemohon (wajib, paling panjang", "Note to the person (required, at most"),
    "chars": ("karakter)", "characters)"),
    "save": ("Simpan keputusan", "Save decision"),
    "conflict": (
        "Sanggahan ini sudah diambil atau diputuskan oleh verifikator lain",
        "Another reviewer took up or decided this objection",
    ),
    "not_saved": ("tindakan Anda tidak disimpan.", "your action was not saved."),
    "taken_by": ("Diambil oleh", "Taken up by"),
    "decided_upheld": ("Sanggahan ini sudah dikabulkan oleh", "This objection was upheld by"),
    "decided_dismissed": ("Sanggahan ini sudah ditolak oleh", "This objection was dismissed by"),
    "waived": ("Alasan yang dikesampingkan saat verifikasi diulang", "Reasons waived on the re-run"),
    "other_lang": ("English", "Bahasa Indonesia"),
}
GROUNDS: dict[str, tuple[str, str]] = {
    "rejected": ("Penolakan verifikasi", "Verification rejection"),
    "ended": ("Berakhirnya kepesertaan", "End of cover"),
}
STATES: dict[str, tuple[str, str]] = {
    "received": ("Diterima", "Received"),
    "in_review": ("Sedang ditinjau", "In review"),
    "upheld": ("Dikabulkan", "Upheld"),
    "dismissed": ("Ditolak", "Dismissed"),
}


def words(lang: Lang) -> dict[str, str]:
    i = 0 if lang == "id" else 1
    return {k: v[i] for k, v in TEXT.items()}


def states(lang: Lang) -> dict[str, str]:
    i = 0 if lang == "id" else 1
    return {k: v[i] for k, v in STATES.items()}


def ground(code: str, lang: Lang) -> str:
    found = GROUNDS.get(code)
    return found[0 if lang == "id" else 1] if found else code
