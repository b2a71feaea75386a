"""Words of the dashboard and the reports, in Bahasa Indonesia (the default) and English (``?lang=en``).

Region names come from the region list (shared.regions), rejection reasons from the shared reason catalogue; the
rest is here. An unknown code is shown as itself rather than hidden.
"""

from __future__ import annotations

from typing import Literal

from shared.reasons import REASONS

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")

TEXT: dict[str, dict[Lang, str]] = {
    "title": {"id": "Dasbor Perlindungan Pekerja Rentan", "en": "Vulnerable Workers' Cover Dashboard"},
    "subtitle": {
        "id": "Jaminan BPJS Ketenagakerjaan (JKK + JKM) bagi pekerja informal",
        "en": "BPJS Ketenagakerjaan cover (JKK + JKM) for informal workers",
    },
    "coverage": {"id": "Cakupan terhadap target", "en": "Coverage against the target"},
    "covered": {"id": "Terlindungi", "en": "Covered"},
    "nominated": {"id": "Diusulkan", "en": "Nominated"},
    "target": {"id": "Target", "en": "Target"},
    "over_time": {"id": "Perkembangan harian", "en": "Progress by day"},
    "by_kecamatan": {"id": "Per kecamatan", "en": "By kecamatan (district)"},
    "by_desa": {"id": "Per desa/kelurahan (teratas)", "en": "By desa/kelurahan (village, top)"},
    "by_occupation": {"id": "Per kategori pekerja", "en": "By worker category"},
    "by_source": {"id": "Per sumber dana", "en": "By funding source"},
    "budget": {"id": "Anggaran: dialokasikan vs terpakai", "en": "Budget: allocated vs committed"},
    "allocated": {"id": "Dialokasikan (setahun)", "en": "Allocated (per year)"},
    "committed": {"id": "Terpakai (setahun)", "en": "Committed (per year)"},
    "quota": {"id": "Kuota", "en": "Quota"},
    "seats": {"id": "Peserta aktif", "en": "Active members"},
    "rejections": {"id": "Alasan penolakan teratas", "en": "Top rejection reasons"},
    "health": {"id": "Kesehatan alur proses", "en": "Pipeline health"},
    "lag": {"id": "Antrean belum diproses (lag)", "en": "Consumer lag"},
    "dead_letters": {"id": "Pesan gagal (dead letter)", "en": "Dead letters"},
    "review_queue": {"id": "Menunggu pemeriksaan petugas", "en": "Waiting for a verifier's review"},
    "waitlisted": {"id": "Daftar tunggu", "en": "Waitlisted"},
    "rejected": {"id": "Ditolak", "en": "Rejected"},
    "service": {"id": "Layanan", "en": "Service"},
    "topic": {"id": "Topik", "en": "Topic"},
    "count": {"id": "Jumlah", "en": "Count"},
    "reason": {"id": "Alasan", "en": "Reason"},
    "unavailable": {"id": "tidak tersedia", "en": "unavailable"},
    "none_yet": {"id": "Belum ada data.", "en": "No data yet."},
    "map": {"id": "Peta cakupan kecamatan", "en": "Coverage map of the kecamatan"},
    "language": {"id": "English", "en": "Bahasa Indonesia"},
    "updated": {"id": "Diperbarui", "en": "Updated"},
    "status": {"id": "Status", "en": "Status"},
    "notifications": {"id": "Pesan terkirim / gagal", "en": "Messages sent / failed"},
    # sign-in, export, print (the pages for people)
    "signed_in_as": {"id": "Masuk sebagai", "en": "Signed in as"},
    "sign_out": {"id": "Keluar", "en": "Sign out"},
    "print": {"id": "Cetak", "en": "Print"},
    "export": {"id": "Unduh semua tabel (XLSX)", "en": "Download every table (XLSX)"},
    "area_view": {"id": "Wilayah Anda", "en": "Your area"},
    "cost_title": {"id": "Biaya mencapai target", "en": "Cost of reaching the target"},
    "cost_yearly": {"id": "Biaya setahun untuk seluruh target", "en": "Yearly cost of the whole target"},
    "premium": {"id": "Iuran per orang per bulan", "en": "Premium per person per month"},
    "gap": {"id": "Kekurangan anggaran", "en": "Budget shortfall"},
    "surplus": {"id": "Kelebihan anggaran", "en": "Budget surplus"},
    "funded_share": {"id": "Target yang terdanai", "en": "Share of the target funded"},
    "share_of_target": {"id": "% target", "en": "% of target"},
    "legend": {"id": "Keterangan: terlindungi / target kecamatan", "en": "Legend: covered / kecamatan target"},
    "outside_area": {"id": "di luar wilayah Anda", "en": "outside your area"},
    "code": {"id": "Kode", "en": "Code"},
    "name": {"id": "Nama", "en": "Name"},
    "day": {"id": "Tanggal", "en": "Day"},
    "sheet_overview": {"id": "Ringkasan", "en": "Overview"},
    "sheet_kecamatan": {"id": "Kecamatan", "en": "Kecamatan"},
    "sheet_desa": {"id": "Desa", "en": "Desa"},
    "sheet_occupation": {"id": "Kategori pekerja", "en": "Worker categories"},
    "sheet_budget": {"id": "Anggaran", "en": "Budget"},
    "sheet_rejections": {"id": "Alasan penolakan", "en": "Rejection reasons"},
    "sheet_daily": {"id": "Harian", "en": "Daily"},
    "sheet_health": {"id": "Kesehatan", "en": "Health"},
    "main_nav": {"id": "Navigasi", "en": "Navigation"},
    # issue 15: the forecast of unfilled seats, objections
    "forecast": {"id": "Perkiraan anggaran tidak terserap", "en": "Forecast of unspent budget"},
    "forecast_note": {
        "id": "Laju = median pengisian kursi bersih per minggu (4 minggu terakhir),"
        " diproyeksikan ke akhir tahun program.",
        "en": "Pace = median net seats filled per week (last 4 weeks), projected to the programme year's end.",
    },
    "enrolled": {"id": "Terisi", "en": "Enrolled"},
    "pace": {"id": "Laju (kursi/hari)", "en": "Pace (seats/day)"},
    "forecast_enrolled": {"id": "Perkiraan terisi", "en": "Forecast enrolled"},
    "seats_left": {"id": "Kursi tersisa", "en": "Seats left"},
    "unspent": {"id": "Anggaran tidak terserap", "en": "Unspent budget"},
    "fewest_desa": {
        "id": "Desa dengan usulan paling sedikit per penduduk usia kerja",
        "en": "Desa with the fewest nominations per eligible population",
    },
    "no_population": {
        "id": "Data penduduk usia kerja belum dimuat: diurutkan menurut jumlah usulan saja.",
        "en": "No eligible population loaded: ranked by nominations alone.",
    },
    "eligible_population": {"id": "Penduduk usia kerja", "en": "Eligible population"},
    "per_thousand": {"id": "Usulan per 1.000", "en": "Nominations per 1,000"},
    "under_represented": {"id": "Kategori pekerja yang kurang terwakili", "en": "Under-represented worker categories"},
    "objections": {"id": "Sanggahan", "en": "Objections"},
    "objections_overdue": {
        "id": "Sanggahan melewati batas waktu layanan, per desa",
        "en": "Objections past the service level, by desa",
    },
    "state": {"id": "Tahap", "en": "State"},
    "age_days": {"id": "Umur (hari)", "en": "Age (days)"},
    "sheet_forecast": {"id": "Perkiraan", "en": "Forecast"},
    "sheet_objections": {"id": "Sanggahan", "en": "Objections"},
}

STATUS: dict[str, dict[Lang, str]] = {
    "submitted": {"id": "Diajukan", "en": "Submitted"},
    "in_review": {"id": "Diperiksa petugas", "en": "In review"},
    "verified": {"id": "Terverifikasi", "en": "Verified"},
    "rejected": {"id": "Ditolak", "en": "Rejected"},
    "waitlisted": {"id": "Daftar tunggu", "en": "Waitlisted"},
    "refused": {"id": "Ditolak BPJS", "en": "Refused by BPJS"},
    "enrolled": {"id": "Terlindungi", "en": "Enrolled"},
    "ended": {"id": "Berakhir", "en": "Ended"},
}

# The nomination form's worker categories (codes of the nomination API).
OCCUPATION: dict[str, dict[Lang, str]] = {
    "petani_pekebun": {"id": "Petani / pekebun", "en": "Farmer / smallholder"},
    "buruh_tani": {"id": "Buruh tani / perkebunan", "en": "Farm / plantation labourer"},
    "nelayan": {"id": "Nelayan", "en": "Fisher"},
    "buruh_nelayan": {"id": "Buruh nelayan", "en": "Fishing crew"},
    "ojek": {"id": "Ojek / ojek online", "en": "Motorcycle taxi"},
    "sopir": {"id": "Sopir", "en": "Driver"},
    "pedagang_kecil": {"id": "Pedagang kecil / keliling", "en": "Small / street trader"},
    "buruh_harian_lepas": {"id": "Buruh harian lepas", "en": "Casual day labourer"},
    "pengrajin": {"id": "Pengrajin", "en": "Craftsperson"},
    "umkm": {"id": "Pelaku UMKM", "en": "Micro business owner"},
    "buruh_sawit": {"id": "Buruh sawit non-perusahaan", "en": "Independent oil-palm labourer"},
    "parkir": {"id": "Juru parkir", "en": "Parking attendant"},
    "buruh_pelabuhan": {"id": "Buruh pelabuhan", "en": "Port labourer"},
    "pemuka_agama": {"id": "Marbot / guru ngaji / pendeta", "en": "Religious worker"},
    "penjaga_warung": {"id": "Penjaga warung", "en": "Stall keeper"},
    "lainnya": {"id": "Pekerja informal lainnya", "en": "Other informal worker"},
}


def lang_of(value: str | None) -> Lang:
    return "en" if value == "en" else "id"


def text(key: str, lang: Lang) -> str:
    return TEXT[key][lang]


def status(code: str, lang: Lang) -> str:
    return STATUS.get(code, {}).get(lang, code)


def occupation(code: str, lang: Lang) -> str:
    return OCCUPATION.get(code, {}).get(lang, code)


def reason(code: str, lang: Lang) -> str:
    """English: the catalogue's description; Bahasa Indonesia: the first sentence of its advice to the official."""
    entry = REASONS.get(code)
    if entry is None:
        return code
    return entry.description if lang == "en" else entry.fix_id.split(". ")[0].rstrip(".")


# Why an objection (sanggahan) was filed (ObjectionFiled.reason_code).
OBJECTION_REASON: dict[str, dict[Lang, str]] = {
    "data_corrected": {"id": "Data sudah diperbaiki", "en": "Data corrected since"},
    "not_duplicate": {"id": "Bukan orang yang sama (bukan duplikat)", "en": "Not a duplicate"},
    "still_eligible": {"id": "Masih memenuhi syarat", "en": "Still eligible"},
    "not_deceased": {"id": "Peserta masih hidup", "en": "The member is alive"},
    "not_moved": {"id": "Tidak pindah domisili", "en": "Has not moved out"},
    "other": {"id": "Alasan lain", "en": "Other"},
}
OBJECTION_STATE: dict[str, dict[Lang, str]] = {
    "received": {"id": "Diterima", "en": "Received"},
    "in_review": {"id": "Diperiksa", "en": "In review"},
    "upheld": {"id": "Dikabulkan", "en": "Upheld"},
    "dismissed": {"id": "Ditolak", "en": "Dismissed"},
}


def objection_reason(code: str, lang: Lang) -> str:
    return OBJECTION_REASON.get(code, {}).get(lang, code)


def objection_state(code: str, lang: Lang) -> str:
    return OBJECTION_STATE.get(code, {}).get(lang, code)
