"""Deterministic synthetic nominations with labelled faults, drawn from a synthetic registry.

Each nomination is the body of ``POST /v1/nominations`` plus the outcome the pipeline should reach and the fault
that was injected, so tests, the demo and the benchmark can check every person's end state.
"""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from shared.regions import RegionIndex, default_regions, nik_prefix
from tools import synthetic_names as names
from tools.synthetic_registry import (  # the private helpers are shared within this package on purpose
    _ROMAN,
    _STREETS,
    API_OCCUPATIONS,
    KTP_OCCUPATIONS,
    MOBILE_PREFIXES,
    REFERENCE_DATE,
    SEX_LABEL,
    RegistryRecord,
    _Area,
    _pick,
    encode_birth_date,
    mobile_number,
    read_registry,
)

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
        fields = (nik, "", name, "", born, SEX_LABEL[sex], address["street"].upper(), address["rt"], address["rw"])
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
        drawn = self.draw(_POOL.get(fault, "none"))
        if drawn is None:
            return None
        person = drawn
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
        if kind == 3:  # a day no one is born on (1-31 men, 41-71 women); an unknown regency of a known province
            # is no longer invalid (issue 16: a NIK keeps the code of a regency that has moved), so not used here
            return nik[:6] + rng.choice(("00", "32", "38", "40", "72", "99")) + nik[8:]
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
