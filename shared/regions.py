"""The official region list (Kemendagri codes) of Kalimantan Timur, loaded as versioned reference data.

The list is data, not code: boundaries change (new villages, the IKN area around Sepaku), so the file and its
version are configuration (``REGION_DATA_FILE``). Codes are kept in their dotted form (``64.08.01.2001``);
``nik_prefix`` turns a kecamatan code into the six digits a NIK starts with.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

DEFAULT_FILE = Path(__file__).parent / "data" / "wilayah-kaltim.csv"
DEFAULT_VERSION = "kepmendagri-300.2.2-2138-2025"
# Every province and regency/city of Indonesia (no kecamatan or desa): the place part of a NIK issued anywhere.
NATIONAL_FILE = Path(__file__).parent / "data" / "wilayah-indonesia-kabkota.csv"

# Where the first four digits of a NIK point: a current regency, a known province whose regency code is not
# (or no longer) listed, or no province at all.
NikPlace = Literal["known", "regency_unknown", "province_unknown"]


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str  # provinsi, kabupaten_kota, kecamatan, desa_kelurahan

    @property
    def parent_code(self) -> str | None:
        return self.code.rsplit(".", 1)[0] if "." in self.code else None


def nik_prefix(code: str) -> str:
    """The undotted digits of a region code: ``64.08.01`` -> ``640801``."""
    return code.replace(".", "")


def dotted(digits: str) -> str:
    """``640801`` -> ``64.08.01``; ``6408012001`` -> ``64.08.01.2001``."""
    parts = [digits[0:2], digits[2:4], digits[4:6], digits[6:10]]
    return ".".join(p for p in parts if p)


class RegionIndex:
    """Look-ups over one version of the region list."""

    def __init__(self, regions: list[Region], version: str) -> None:
        self.version = version
        self._by_code = {r.code: r for r in regions}

    def get(self, code: str) -> Region | None:
        return self._by_code.get(code)

    def is_level(self, code: str, level: str) -> bool:
        region = self._by_code.get(code)
        return region is not None and region.level == level

    def regency_of(self, code: str) -> str | None:
        """The regency/city code (``64.08``) that contains ``code``, if the code is known."""
        if code not in self._by_code:
            return None
        return ".".join(code.split(".")[:2]) if code.count(".") >= 1 else None

    def by_level(self, level: str) -> list[Region]:
        return [r for r in self._by_code.values() if r.level == level]

    def children(self, code: str) -> list[Region]:
        return [r for r in self._by_code.values() if r.parent_code == code]

    def __len__(self) -> int:
        return len(self._by_code)


def load_regions(path: Path = DEFAULT_FILE, version: str = DEFAULT_VERSION) -> RegionIndex:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [Region(r["kode"], r["nama"], r["tingkat"]) for r in csv.DictReader(handle)]
    return RegionIndex(rows, version)


@lru_cache(maxsize=1)
def default_regions() -> RegionIndex:
    """The region list in force: ``PAYUNG_REGION_DATA_FILE`` / ``PAYUNG_REGION_DATA_VERSION``, else the bundled one."""
    path = os.environ.get("PAYUNG_REGION_DATA_FILE")
    version = os.environ.get("PAYUNG_REGION_DATA_VERSION", DEFAULT_VERSION)
    return load_regions(Path(path), version) if path else load_regions()


@lru_cache(maxsize=1)
def national_regions() -> RegionIndex:
    """Provinces and regencies of all Indonesia: ``PAYUNG_NATIONAL_REGION_FILE``, else the bundled list."""
    path = os.environ.get("PAYUNG_NATIONAL_REGION_FILE")
    version = os.environ.get("PAYUNG_REGION_DATA_VERSION", DEFAULT_VERSION)
    return load_regions(Path(path), version) if path else load_regions(NATIONAL_FILE, version)


def nik_place(nik: str, national: RegionIndex | None = None) -> NikPlace:
    """Where a NIK's first four digits (PPKK) point in the national list.

    A NIK keeps the code of the regency that first issued it, for life: regencies that moved to a new province
    (Kalimantan Utara 2012, Papua's split in 2022) left NIKs whose regency code is no longer listed under their
    province. Such a code is ``regency_unknown`` (a flag for review), never invalid; only an unknown province is.
    """
    index = national or national_regions()
    return _nik_place(nik[:4], index)


@lru_cache(maxsize=8192)
def _nik_place(ppkk: str, index: RegionIndex) -> NikPlace:
    if len(ppkk) != 4 or not ppkk.isdigit() or not index.is_level(ppkk[:2], "provinsi"):
        return "province_unknown"
    return "known" if index.is_level(dotted(ppkk), "kabupaten_kota") else "regency_unknown"
