"""Deterministic synthetic data: a civil-registry snapshot and nominations with labelled faults.

``python -m tools.synthetic registry`` writes a Disdukcapil-style CSV; ``python -m tools.synthetic nominations``
writes JSONL lines ``{"request": <POST /v1/nominations body>, "expected": <outcome>, "fault": <fault>}`` drawn
from that registry. The same seed always gives byte-identical files. Region codes come from the region list
(``shared.regions``); names and name faults live in ``tools.synthetic_names``.
"""

from __future__ import annotations

import csv
import dataclasses
import random
from bisect import bisect
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from operator import attrgetter
from pathlib import Path
from time import perf_counter
from typing import Annotated, Any

import orjson
import typer
from stdnum.id import nik as stdnum_nik

from shared.regions import Region, RegionIndex, default_regions, nik_prefix
from tools import synthetic_names as names

REFERENCE_DATE = date(2026, 11, 21)  # "today" for ages and letter dates; a parameter everywhere
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
        values = [row[h] for h in REGISTRY_HEADER]
        values[4] = date.fromisoformat(values[4])
        return cls(*values)


_FIELDS = attrgetter(*(h.lower() for h in REGISTRY_HEADER))


class _Area:
    """The regions the generator draws from: the programme regency, the rest of the province."""

    def __init__(self, regions: RegionIndex, regency: str, rng: random.Random) -> None:
        if not regions.is_level(regency, "kabupaten_kota"):
            raise ValueError(f"{regency!r} is not a regency/city code of the region list")
        self.regions, self.regency = regions, regency
        self.province = regions.get(regency.split(".")[0])
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
        self.occ_cum = {s: _cumulative(v[i] for v in KTP_OCCUPATIONS.values()) for i, s in enumerate("MF")}
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


# ---------------------------------------------------------------- nominations

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
INVALID = "invalid"
FAULT_OUTCOME: dict[str, str] = {
    "none": ACCEPTED,
    "typo_in_name": ACCEPTED,
    "name_variant_muhammad": ACCEPTED,
    "honorific": ACCEPTED,
    "old_spelling": ACCEPTED,
    "nik_birthdate_differs": ACCEPTED,
    "not_in_registry": "rejected:REGISTRY_NOT_FOUND",
    "deceased": "rejected:DECEASED",
    "inactive": "rejected:INACTIVE",
    "other_regency": "rejected:OUTSIDE_PROGRAMME_REGENCY",
    "wrong_person_name": "rejected:NAME_MISMATCH",
    "duplicate_same_nik": DUPLICATE,
    "bad_nik": INVALID,
    "bad_phone": INVALID,
    "bad_region": INVALID,
    "region_mismatch": INVALID,
    "future_birth_date": INVALID,
    "missing_letter": INVALID,
}
OUTCOMES: tuple[str, ...] = tuple(dict.fromkeys(FAULT_OUTCOME.values()))
FAULTS: tuple[str, ...] = tuple(FAULT_OUTCOME)


@dataclass(frozen=True)
class Mix:
    """Share of each fault among the nominations; whatever is left is clean (fault ``none``).

    Default: ~80% clean, 8% tolerable faults (accepted), 7.5% rejections, 2% duplicates, 3% invalid.
    """

    typo_in_name: float = 0.025
    name_variant_muhammad: float = 0.015
    honorific: float = 0.015
    old_spelling: float = 0.01
    nik_birthdate_differs: float = 0.015
    not_in_registry: float = 0.015
    deceased: float = 0.015
    inactive: float = 0.015
    other_regency: float = 0.015
    wrong_person_name: float = 0.015
    duplicate_same_nik: float = 0.02
    bad_nik: float = 0.006
    bad_phone: float = 0.006
    bad_region: float = 0.005
    region_mismatch: float = 0.005
    future_birth_date: float = 0.004
    missing_letter: float = 0.004

    def __post_init__(self) -> None:
        rates = dataclasses.asdict(self).values()
        if any(r < 0 for r in rates) or sum(rates) > 1 + 1e-9:
            raise ValueError("fault rates must be non-negative and sum to at most 1")

    def counts(self, total: int) -> dict[str, int]:
        """Exact number of lines per fault for ``total`` lines (largest remainder), ``none`` included."""
        shares = {"none": 1 - sum(dataclasses.asdict(self).values()), **dataclasses.asdict(self)}
        counts = {f: int(share * total) for f, share in shares.items()}
        by_remainder = sorted(shares, key=lambda f: (counts[f] - shares[f] * total, FAULTS.index(f)))
        for fault in by_remainder[: total - sum(counts.values())]:
            counts[fault] += 1
        return counts


DEFAULT_MIX = Mix()


@dataclass(frozen=True)
class Nomination:
    """One JSONL line: the API request body, the outcome the pipeline should reach, and the injected fault."""

    request: dict[str, Any]
    expected: str
    fault: str

    def to_json(self) -> bytes:
        return orjson.dumps({"request": self.request, "expected": self.expected, "fault": self.fault})


# which registry people can carry a fault (name faults: see ``names.FITS``)
_POOL = {"deceased": "deceased", "inactive": "inactive", "other_regency": "other", "nik_birthdate_differs": "nikdate"}
_POOL.update({fault: fault for fault in names.FITS})


class _NominationBuilder:
    def __init__(
        self, registry: list[RegistryRecord], seed: int, regency: str, reference_date: date, regions: RegionIndex
    ) -> None:
        self.rng = random.Random(f"nominations:{seed}")
        self.area = _Area(regions, regency, random.Random(f"area:{seed}"))
        self.ref = reference_date
        self.known = {r.nik for r in registry}
        self.used: set[str] = set()
        self.officials: dict[str, tuple[str, str | None, str | None, int]] = {}
        self.turns: Counter[str] = Counter()  # letters per official; bad NIK and phone kinds in turn
        pools: dict[str, list[RegistryRecord]] = {k: [] for k in ("none", "deceased", "inactive", "other", "nikdate")}
        for r in registry:
            if not 18 <= r.age(reference_date) <= 65:
                continue
            home = r.kel_code.startswith(regency + ".")
            if not r.nik_matches_birth_date:
                key = "nikdate" if home and r.status == "HIDUP" else ""
            elif not home:
                key = "other" if r.status == "HIDUP" else ""
            else:
                key = {"HIDUP": "none", "MATI": "deceased", "TIDAK_AKTIF": "inactive"}[r.status]
            if key:
                pools[key].append(r)
        for fault, fits in names.FITS.items():  # name faults need a name they can change
            pools[fault] = [r for r in pools["none"] if fits(r.nama_lgkp)]
        self.pools = pools

    def draw(self, pool: str) -> RegistryRecord | None:
        """A registry person not nominated yet (deliberate duplicates aside)."""
        people = self.pools[pool]
        if not people:
            return None
        for _ in range(50):
            person = self.rng.choice(people)
            if person.nik not in self.used:
                self.used.add(person.nik)
                return person
        start = self.rng.randrange(len(people))
        for person in people[start:] + people[:start]:
            if person.nik not in self.used:
                self.used.add(person.nik)
                return person
        return None

    def request(
        self,
        person: RegistryRecord,
        name: str | None = None,
        kind: str | None = None,
        address: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        if address is None:
            address = {
                "kecamatan_code": person.kec_code,
                "desa_code": person.kel_code,
                "rt": person.no_rt,
                "rw": person.no_rw,
                "street": person.alamat.title(),
            }
        shown = name or person.nama_lgkp
        occupations = KTP_OCCUPATIONS.get(person.jenis_pkrjn, (0, 0, ()))[2] or API_OCCUPATIONS
        kind = kind or _pick(rng, ("rt", "desa", "disnaker"), [50, 85, 100])
        return {
            "nik": person.nik,
            "full_name": shown if rng.random() < 0.25 else names.display(shown),
            "birth_date": person.tgl_lhr.isoformat(),
            "sex": person.sex,
            "phone": mobile_number(rng),
            "address": address,
            "occupation": rng.choice(occupations),
            **self.nominator(kind, address),
        }

    def nominator(self, kind: str, address: dict[str, str]) -> dict[str, Any]:
        """The proposing official and the letter; the same RT head or village head recurs for an area."""
        rng, desa, regency = self.rng, address["desa_code"], self.area.regency
        region = regency if kind == "disnaker" else desa
        key = f"{kind}:{regency}:{rng.randrange(6)}" if kind == "disnaker" else f"{kind}:{desa}:{address['rt']}"
        if key not in self.officials:
            who = names.make_name(rng, rng.choice(list(names.GROUPS)), "M" if rng.random() < 0.8 else "F")
            user = names.first_name(who).lower().replace(".", "")
            email = f"{user}.{rng.randint(1, 99)}@{kind}.example.org" if rng.random() < 0.4 else None
            phone = mobile_number(rng) if rng.random() < 0.6 else None
            self.officials[key] = (names.display(who), email, phone, rng.randint(1, 400))
        who, email, phone, first_letter = self.officials[key]
        place = self.area.name(desa)
        village = ("Kelurahan " if desa[-4:].startswith("1") else "Desa ") + place
        issued = self.ref - timedelta(days=rng.randint(0, 60))
        stamp = f"{_ROMAN[issued.month - 1]}/{issued.year}"
        serial = first_letter + self.turns[key]
        self.turns[key] += 1
        if kind == "rt":
            letter = {
                "number": f"{serial:03d}/RT.{address['rt']}/RW.{address['rw']}/{stamp}",
                "issuer": f"Ketua RT {address['rt']} {village}",
            }
        elif kind == "desa":
            letter = {
                "number": f"140/{serial}/{'KEL' if 'Kel' in village else 'DS'}-{desa[-4:]}/{stamp}",
                "issuer": ("Lurah " if "Kel" in village else "Kepala Desa ") + place,
            }
        else:
            letter = {
                "number": f"560/{serial:04d}/DISNAKERTRANS/{stamp}",
                "issuer": f"Kepala Dinas Tenaga Kerja dan Transmigrasi {self.area.name(regency)}",
            }
        letter_or_none = None if kind == "disnaker" and rng.random() < 0.5 else {**letter, "date": issued.isoformat()}
        return {
            "nominator": {"type": kind, "name": who, "region_code": region, "email": email, "phone": phone},
            "supporting_letter": letter_or_none,
        }

    def random_address(self) -> dict[str, str]:
        rng, desa = self.rng, _pick(self.rng, self.area.home, self.area.home_cum)
        return {
            "kecamatan_code": desa.parent_code or "",
            "desa_code": desa.code,
            "rt": f"{rng.randint(1, 25):03d}",
            "rw": f"{rng.randint(1, 8):03d}",
            "street": f"Jl. {rng.choice(_STREETS).title()}",
        }

    def stranger(self) -> RegistryRecord:
        """A person with a well-formed NIK of the regency that the registry does not hold."""
        rng = self.rng
        sex = rng.choice("MF")
        born = date.fromordinal(self.ref.toordinal() - rng.randint(19 * 366, 64 * 365))
        address = self.random_address()
        while True:
            nik = nik_prefix(address["kecamatan_code"]) + encode_birth_date(born, sex) + f"{rng.randint(5000, 9999)}"
            if nik not in self.known and nik not in self.used:
                break
        self.used.add(nik)
        name = names.make_name(rng, rng.choice(list(names.GROUPS)), sex)
        fields = [nik, "", name, "", born, SEX_LABEL[sex], address["street"].upper(), address["rt"], address["rw"]]
        return RegistryRecord(*fields, address["desa_code"], "", "", "", "", "LAINNYA", "BELUM KAWIN", "HIDUP")

    def build(self, fault: str, earlier: list[RegistryRecord]) -> tuple[dict[str, Any], RegistryRecord] | None:
        """The request for one fault, or None when the registry has nobody left to carry that fault."""
        rng = self.rng
        if fault == "duplicate_same_nik":
            person = rng.choice(earlier)
            return self.request(person), person
        if fault == "not_in_registry":
            person = self.stranger()
            return self.request(person), person
        person = self.draw(_POOL.get(fault, "none"))
        if person is None:
            return None
        if fault in names.NAME_FAULTS:
            return self.request(person, name=names.stated_name(fault, rng, person.nama_lgkp, person.sex)), person
        if fault == "other_regency":
            return self.request(person, address=self.random_address()), person
        if fault == "bad_region":
            request = self.request(person, kind="disnaker")
            while self.area.regions.get(request["address"]["desa_code"]) is not None:
                request["address"]["desa_code"] = f"{person.kec_code}.{rng.choice('12')}{rng.randint(100, 999)}"
            return request, person
        request = self.request(person, kind=rng.choice(("rt", "desa")) if fault == "missing_letter" else None)
        if fault == "bad_nik":
            request["nik"] = self.bad_nik(person.nik)
        elif fault == "bad_phone":
            request["phone"] = self.bad_phone()
        elif fault == "region_mismatch":
            others = [k for k in self.area.home_kecamatan if k != person.kec_code] or ["99.99.99"]
            request["address"]["kecamatan_code"] = rng.choice(others)
        elif fault == "future_birth_date":
            request["birth_date"] = (self.ref + timedelta(days=rng.randint(2 * 365, 30 * 365))).isoformat()
        elif fault == "missing_letter":
            request["supporting_letter"] = None
        return request, person

    def bad_nik(self, nik: str) -> str:
        rng, kind = self.rng, self.turns["bad_nik"] % 5  # every kind in turn
        self.turns["bad_nik"] += 1
        if kind == 0:
            return nik[:15]
        if kind == 1:
            pos = rng.randrange(16)
            return nik[:pos] + rng.choice("OIBSl") + nik[pos + 1 :]
        if kind == 2:  # a province that does not exist
            return rng.choice(("00", "10", "20", "40", "80", "99")) + nik[2:]
        if kind == 3:  # a regency the province does not have
            free = [f"{k:02d}" for k in range(1, 100) if self.area.regions.get(f"{nik[:2]}.{k:02d}") is None]
            return nik[:2] + rng.choice(free) + nik[4:]
        return nik[:8] + rng.choice(("00", "13", "19")) + nik[10:]  # no such month

    def bad_phone(self) -> str:
        rng, kind = self.rng, self.turns["bad_phone"] % 4
        self.turns["bad_phone"] += 1
        digits = "".join(rng.choices("0123456789", k=12))
        if kind == 0:  # landline in Samarinda / Sangatta
            return rng.choice(("0541", "0549")) + digits[:7]
        if kind == 1:
            return "0800" + digits[:7]  # toll-free
        if kind == 2:
            return rng.choice(MOBILE_PREFIXES) + digits[: rng.randint(2, 4)]  # too short
        return rng.choice(MOBILE_PREFIXES) + digits[:11]  # 15 digits


def generate_nominations(
    registry: list[RegistryRecord] | Path | str,
    count: int,
    seed: int,
    regency: str = "64.08",
    *,
    mix: Mix = DEFAULT_MIX,
    reference_date: date = REFERENCE_DATE,
    regions: RegionIndex | None = None,
) -> Iterator[Nomination]:
    """``count`` nominations drawn from ``registry`` with faults in the proportions of ``mix``.

    Nominated people are distinct registry persons aged 18 to 65 on ``reference_date`` and living in ``regency``
    (except deliberate duplicates and ``other_regency``). When the registry has nobody left for a fault, a clean
    nomination takes its place; ``summary`` shows the mix actually produced.
    """
    people = list(read_registry(Path(registry))) if isinstance(registry, str | Path) else registry
    builder = _NominationBuilder(people, seed, regency, reference_date, regions or default_regions())
    slots = [fault for fault, n in mix.counts(count).items() for _ in range(n)]
    builder.rng.shuffle(slots)
    if "duplicate_same_nik" in slots:  # a duplicate needs an accepted nomination before it
        first = next((i for i, f in enumerate(slots) if FAULT_OUTCOME[f] == ACCEPTED), None)
        if first is None:
            raise ValueError("duplicates need at least one accepted nomination in the mix")
        slots[0], slots[first] = slots[first], slots[0]
    accepted: list[RegistryRecord] = []
    for fault in slots:
        built = builder.build(fault, accepted)
        if built is None:
            fault, built = "none", builder.build("none", accepted)
            if built is None:
                raise ValueError(f"the registry has too few eligible people for {count} nominations")
        request, person = built
        if FAULT_OUTCOME[fault] == ACCEPTED:
            accepted.append(person)
        yield Nomination(request, FAULT_OUTCOME[fault], fault)


def write_nominations(nominations: Iterable[Nomination], path: Path) -> int:
    count = 0
    with path.open("wb") as handle:
        for nomination in nominations:
            handle.write(nomination.to_json() + b"\n")
            count += 1
    return count


def read_nominations(path: Path) -> Iterator[Nomination]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield Nomination(**orjson.loads(line))


def summary(nominations: Iterable[Nomination | dict[str, Any]], by: str = "expected") -> Counter[str]:
    """How many nominations per expected outcome (``by="expected"``) or per injected fault (``by="fault"``)."""
    return Counter(n[by] if isinstance(n, dict) else getattr(n, by) for n in nominations)


# ---------------------------------------------------------------- command line

app = typer.Typer(
    help="Deterministic synthetic civil registry and nominations.", no_args_is_help=True, add_completion=False
)


@app.command("registry")
def registry_command(
    people: int = 300_000,
    seed: int = 42,
    regency: str = "64.08",
    out: Path = Path("registry.csv"),
    reference_date: Annotated[str, typer.Option(help="Ages are computed on this day")] = REFERENCE_DATE.isoformat(),
) -> None:
    """Write a civil-registry snapshot as CSV."""
    started = perf_counter()
    n = write_registry(generate_registry(people, seed, regency, reference_date=date.fromisoformat(reference_date)), out)
    typer.echo(f"{n} registry rows -> {out} in {perf_counter() - started:.1f}s", err=True)


@app.command("nominations")
def nominations_command(
    registry: Path = Path("registry.csv"),
    count: int = 5000,
    seed: int = 7,
    regency: str = "64.08",
    out: Path = Path("nominations.jsonl"),
    rate: Annotated[list[str] | None, typer.Option(help="Override a fault rate: FAULT=RATE, repeatable")] = None,
    reference_date: str = REFERENCE_DATE.isoformat(),
) -> None:
    """Write nominations (JSONL) drawn from a registry CSV, with labelled faults."""
    started = perf_counter()
    overrides = {k: float(v) for k, v in (r.split("=", 1) for r in rate or [])}
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Mix)}
    if unknown:
        raise typer.BadParameter(f"unknown faults: {', '.join(sorted(unknown))}", param_hint="--rate")
    mix = dataclasses.replace(DEFAULT_MIX, **overrides)
    made = list(
        generate_nominations(registry, count, seed, regency, mix=mix, reference_date=date.fromisoformat(reference_date))
    )
    write_nominations(made, out)
    typer.echo(f"{len(made)} nominations -> {out} in {perf_counter() - started:.1f}s", err=True)
    for outcome, n in sorted(summary(made).items()):
        typer.echo(f"  {outcome:<36} {n:>7}", err=True)


@app.command("summary")
def summary_command(path: Path, by: str = "expected") -> None:
    """Print the mix of a nominations file, per expected outcome or per fault."""
    for key, n in summary(read_nominations(path), by=by).most_common():
        typer.echo(f"{key:<36} {n:>7}")


if __name__ == "__main__":
    app()
