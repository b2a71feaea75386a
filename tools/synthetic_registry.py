"""Deterministic synthetic civil registry: a Disdukcapil-style snapshot of a regency's people.

Region codes come from the region list (``shared.regions``); names live in ``tools.synthetic_names``. The same seed
always gives byte-identical files.
"""

from __future__ import annotations

import csv
import random
from bisect import bisect
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from operator import attrgetter
from pathlib import Path
from typing import Any

from stdnum.id import nik as stdnum_nik

from shared.regions import Region, RegionIndex, default_regions, nik_prefix
from tools import synthetic_names as names

REFERENCE_DATE = date(2026, 11, 21)  # "today" for ages and letter dates; a parameter everywhere
WITA = timezone(timedelta(hours=8), "WITA")


def programme_today() -> date:
    """Today in Kalimantan Timur: the reference date of data fed to RUNNING services, which judge ages on the day a
    nomination is submitted. With the fixed ``REFERENCE_DATE`` instead, people who turned 66 since then were intended
    "accepted" and verified "AGE_OUT_OF_RANGE" (the fault suite's violation on 2026-12-03)."""
    return datetime.now(WITA).date()


REGISTRY_HEADER = tuple(
    "NIK NO_KK NAMA_LGKP TMPT_LHR TGL_LHR JENIS_KLMIN ALAMAT NO_RT NO_RW KEL_CODE KEL_NAME KEC_NAME KAB_NAME "
    "PROP_NAME JENIS_PKRJN STATUS_KAWIN STATUS".split()
)
SEX_LABEL = {"M": "LAKI-LAKI", "F": "PEREMPUAN"}
# KTP (SIAK) occupation label -> (weight for men, weight for women, API occupations it usually stands for)
KTP_OCCUPATIONS: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "PETANI/PEKEBUN": (20, 8, ("petani_pekebun",)),
    "BURUH TANI/PERKEBUNAN": (14, 5, ("buruh_tani", "buruh_sawit")),
    "BURUH HARIAN LEPAS": (12, 3, ("buruh_harian_lepas", "parkir", "buruh_pelabuhan")),
    "NELAYAN/PERIKANAN": (5, 1, ("nelayan",)),
    "BURUH NELAYAN/PERIKANAN": (3, 0.5, ("buruh_nelayan",)),
    "SOPIR": (4, 0, ("sopir", "ojek")),
    "PEDAGANG": (6, 8, ("pedagang_kecil", "penjaga_warung")),
    "WIRASWASTA": (12, 6, ("umkm", "pengrajin", "ojek", "pedagang_kecil")),
    "KARYAWAN SWASTA": (12, 5, ()),
    "TUKANG KAYU": (2, 0, ("pengrajin", "buruh_harian_lepas")),
    "TUKANG BATU": (2, 0, ("buruh_harian_lepas",)),
    "MENGURUS RUMAH TANGGA": (0, 45, ("penjaga_warung", "pedagang_kecil", "pengrajin", "lainnya")),
    "PEGAWAI NEGERI SIPIL": (2, 2, ()),
    "BELUM/TIDAK BEKERJA": (3, 5, ()),
    "LAINNYA": (3, 2, ("lainnya", "pemuka_agama")),
}
API_OCCUPATIONS = tuple(
    "petani_pekebun buruh_tani nelayan buruh_nelayan ojek sopir pedagang_kecil buruh_harian_lepas pengrajin umkm "
    "buruh_sawit parkir buruh_pelabuhan pemuka_agama penjaga_warung lainnya".split()
)
MOBILE_PREFIXES = tuple(
    "0811 0812 0813 0821 0822 0823 0851 0852 0853 0857 0858 0877 0878 0881 0882 0883 0884 0885 0886 0887 0888 "
    "0889 0895 0896 0897 0898 0899".split()
)
_AGE_BANDS = ((18, 24, 12), (25, 34, 22), (35, 44, 22), (45, 54, 18), (55, 65, 14), (66, 70, 7))
_STREETS = names.words(
    "POROS MERDEKA PEMUDA DAHLIA MELATI KENANGA PESANTREN SEPAKAT SWADAYA GOTONG_ROYONG PERJUANGAN BHAYANGKARA "
    "PELABUHAN SAWIT KARYA_BARU TELUK_LINGGA"
)
_ROMAN = "I II III IV V VI VII VIII IX X XI XII".split()


def _cumulative(weights: Iterable[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, items: list[Any] | tuple[Any, ...], cum: list[float]) -> Any:
    return items[bisect(cum, rng.random() * cum[-1])]


def encode_birth_date(born: date, sex: str) -> str:
    """The DDMMYY part of a NIK: day plus 40 for women."""
    return f"{born.day + (40 if sex == 'F' else 0):02d}{born.month:02d}{born.year % 100:02d}"


def mobile_number(rng: random.Random) -> str:
    """An Indonesian mobile number, 10 to 13 digits with the leading 0."""
    length = _pick(rng, (10, 11, 12, 13), [1, 4.5, 9, 10])
    return rng.choice(MOBILE_PREFIXES) + "".join(rng.choices("0123456789", k=length - 4))


def _age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """One row of the civil-registry snapshot (field names follow the Dukcapil response, lower-cased)."""

    nik: str
    no_kk: str
    nama_lgkp: str
    tmpt_lhr: str
    tgl_lhr: date
    jenis_klmin: str
    alamat: str
    no_rt: str
    no_rw: str
    kel_code: str
    kel_name: str
    kec_name: str
    kab_name: str
    prop_name: str
    jenis_pkrjn: str
    status_kawin: str
    status: str

    @property
    def sex(self) -> str:
        return "M" if self.jenis_klmin == "LAKI-LAKI" else "F"

    @property
    def kec_code(self) -> str:
        return self.kel_code.rsplit(".", 1)[0]

    @property
    def nik_matches_birth_date(self) -> bool:
        return self.nik[6:12] == encode_birth_date(self.tgl_lhr, self.sex)

    def age(self, on: date = REFERENCE_DATE) -> int:
        return _age_on(self.tgl_lhr, on)

    def row(self) -> list[str]:
        """The CSV row, in ``REGISTRY_HEADER`` order."""
        values = list(_FIELDS(self))
        values[4] = self.tgl_lhr.isoformat()
        return values

    @classmethod
    def from_row(cls, row: dict[str, str]) -> RegistryRecord:
        values: list[Any] = [row[h] for h in REGISTRY_HEADER]  # CSV text, but for the birth date
        values[4] = date.fromisoformat(values[4])
        return cls(*values)


_FIELDS = attrgetter(*(h.lower() for h in REGISTRY_HEADER))


class _Area:
    """The regions the generator draws from: the programme regency, the rest of the province."""

    def __init__(self, regions: RegionIndex, regency: str, rng: random.Random) -> None:
        if not regions.is_level(regency, "kabupaten_kota"):
            raise ValueError(f"{regency!r} is not a regency/city code of the region list")
        self.regions, self.regency = regions, regency
        province = regions.get(regency.split(".")[0])
        if province is None:
            raise ValueError(f"the province of {regency!r} is not in the region list")
        self.province = province
        desa = sorted(regions.by_level("desa_kelurahan"), key=lambda r: r.code)
        self.home = [d for d in desa if d.code.startswith(regency + ".")]
        self.away = [d for d in desa if not d.code.startswith(regency + ".")]
        if not self.home or not self.away:
            raise ValueError(f"no villages in or around {regency!r}")
        # villages differ in size; kelurahan (1xxx, small towns) are bigger than desa
        self.home_cum = _cumulative(rng.uniform(0.4, 2.0) * (3 if d.code[-4] == "1" else 1) for d in self.home)
        self.kecamatan = sorted((r.code for r in regions.by_level("kecamatan")), key=str)
        self.home_kecamatan = [k for k in self.kecamatan if k.startswith(regency + ".")]

    def name(self, code: str) -> str:
        region = self.regions.get(code)
        return region.name if region else code

    def regency_label(self, code: str) -> str:
        return self.name(code).upper().removeprefix("KABUPATEN ")


class _RegistryBuilder:
    def __init__(self, seed: int, regency: str, reference_date: date, regions: RegionIndex) -> None:
        self.rng = random.Random(f"registry:{seed}")
        self.area = _Area(regions, regency, self.rng)
        self.ref = reference_date
        self.serials: Counter[str] = Counter()  # NIK and KK serials, per 12-digit head
        self.kk_serials: Counter[str] = Counter()
        self.groups, self.group_cum = names.group_cumulative()
        self.occ = list(KTP_OCCUPATIONS)
        self.occ_cum = {
            "M": _cumulative(v[0] for v in KTP_OCCUPATIONS.values()),
            "F": _cumulative(v[1] for v in KTP_OCCUPATIONS.values()),
        }
        self.age_cum = _cumulative(b[2] for b in _AGE_BANDS)
        self.birthplaces = [self.area.name(k).upper() for k in self.area.kecamatan]

    def family(self) -> Iterator[RegistryRecord]:
        rng, area = self.rng, self.area
        desa: Region = _pick(rng, area.home, area.home_cum) if rng.random() < 0.95 else rng.choice(area.away)
        kec = desa.parent_code or ""
        kk_issued = date.fromordinal(rng.randint(date(2005, 1, 1).toordinal(), self.ref.toordinal()))
        no_kk = self._serial(nik_prefix(kec) + encode_birth_date(kk_issued, "M"), self.kk_serials)
        street = rng.choice(_STREETS)
        alamat = f"JL. {street} NO. {rng.randint(1, 120)}" if rng.random() < 0.7 else f"DUSUN {street}"
        home = dict(
            alamat=alamat,
            no_rt=f"{rng.randint(1, 25):03d}",
            no_rw=f"{rng.randint(1, 8):03d}",
            kel_code=desa.code,
            kel_name=desa.name.upper(),
            kec_name=area.name(kec).upper(),
            kab_name=area.regency_label(kec.rsplit(".", 1)[0]),
            prop_name=area.province.name.upper(),
        )
        size = _pick(rng, (1, 2, 3, 4, 5), [25, 55, 75, 90, 100])
        group = _pick(rng, self.groups, self.group_cum)
        head_sex = "M" if rng.random() < 0.85 else "F"
        head_age = max(self._age(), 38 if size >= 3 else 0)
        head_name = names.make_name(rng, group, head_sex)
        yield self._person(no_kk, head_name, head_sex, head_age, group, home, "KAWIN" if size > 1 else None)
        if size >= 2:
            sex = "F" if head_sex == "M" else "M"
            spouse_group = group if rng.random() < 0.85 else _pick(rng, self.groups, self.group_cum)
            age = max(18, head_age + rng.randint(-8, 6))
            yield self._person(no_kk, names.make_name(rng, spouse_group, sex), sex, age, spouse_group, home, "KAWIN")
        father = names.first_name(head_name) if head_sex == "M" else None
        for _ in range(size - 2):
            sex = rng.choice("MF")
            age = rng.randint(15, 17) if rng.random() < 0.12 else rng.randint(18, max(18, min(head_age - 18, 40)))
            name = names.make_name(rng, group, sex, father=father)
            yield self._person(no_kk, name, sex, age, group, home, "BELUM KAWIN")

    def _age(self) -> int:
        low, high, _w = _pick(self.rng, _AGE_BANDS, self.age_cum)
        return self.rng.randint(low, high)

    def _serial(self, head: str, serials: Counter[str] | None = None) -> str:
        serials = self.serials if serials is None else serials
        serials[head] += 1
        return f"{head}{serials[head]:04d}"

    def _person(
        self, no_kk: str, name: str, sex: str, age: int, group: str, home: dict[str, str], marital: str | None
    ) -> RegistryRecord:
        rng = self.rng
        born = date.fromordinal(self.ref.toordinal() - int(age * 365.2425) - rng.randrange(365))
        nik_born = born if rng.random() >= 0.02 else self._wrong_date(born)
        kec = home["kel_code"].rsplit(".", 1)[0]
        issued_in = kec if rng.random() < 0.9 else rng.choice(self.area.kecamatan)
        nik = self._serial(nik_prefix(issued_in) + encode_birth_date(nik_born, sex))
        stdnum_nik.validate(nik)  # structural check (length, digits, date, province)
        if marital is None:
            marital = "BELUM KAWIN" if age < 30 or rng.random() < 0.5 else rng.choice(("CERAI HIDUP", "CERAI MATI"))
        occupation = "PELAJAR/MAHASISWA" if age < 20 and rng.random() < 0.7 else _pick(rng, self.occ, self.occ_cum[sex])
        origins, roll = names.GROUPS[group].origins, rng.random()
        if roll < 0.55:  # born where they live now, elsewhere in the province, or where their family came from
            birthplace = home["kec_name"]
        else:
            birthplace = rng.choice(origins) if origins and roll < 0.85 else rng.choice(self.birthplaces)
        roll = rng.random()
        status = "MATI" if roll < 0.01 else "TIDAK_AKTIF" if roll < 0.013 else "HIDUP"
        return RegistryRecord(
            nik=nik,
            no_kk=no_kk,
            nama_lgkp=name,
            tmpt_lhr=birthplace,
            tgl_lhr=born,
            jenis_klmin=SEX_LABEL[sex],
            jenis_pkrjn=occupation,
            status_kawin=marital,
            status=status,
            **home,
        )

    def _wrong_date(self, born: date) -> date:
        """The date a NIK was wrongly issued with: a placeholder 1 January / 31 December, or a near miss."""
        while True:
            kind = self.rng.randrange(4)
            if kind == 0:
                wrong = date(born.year, 1, 1)
            elif kind == 1:
                wrong = date(born.year, 12, 31)
            elif kind == 2:
                wrong = born + timedelta(days=self.rng.choice((-30, -10, -1, 1, 10, 30)))
            else:
                wrong = date(born.year + self.rng.choice((-1, 1)), born.month, min(born.day, 28))
            if wrong != born:
                return wrong


def generate_registry(
    people: int,
    seed: int,
    regency: str = "64.08",
    *,
    reference_date: date = REFERENCE_DATE,
    regions: RegionIndex | None = None,
) -> Iterator[RegistryRecord]:
    """``people`` registry rows in families (shared NO_KK); ~95% live in ``regency``, the rest elsewhere in the
    province. About 1% are deceased (MATI), 0.3% inactive, 2% carry a NIK issued with a wrong birth date."""
    builder = _RegistryBuilder(seed, regency, reference_date, regions or default_regions())
    made = 0
    while made < people:
        for record in builder.family():
            yield record
            made += 1
            if made >= people:
                return


def write_registry(records: Iterable[RegistryRecord], path: Path) -> int:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REGISTRY_HEADER)
        count = 0
        for record in records:
            writer.writerow(record.row())
            count += 1
    return count


def read_registry(path: Path) -> Iterator[RegistryRecord]:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            yield RegistryRecord.from_row(row)
