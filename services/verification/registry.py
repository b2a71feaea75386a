"""The civil registry (Disdukcapil), behind one interface.

``CivilRegistry`` answers a batch of NIKs at once, with an explicit state per NIK (``LookupState``). Two adapters:
``SnapshotRegistry`` answers from the snapshot table loaded by ``python -m services.verification load-registry``
(see ``snapshot_loader``); ``registry_http.HttpRegistry`` asks a Dukcapil-style web service. A registry that cannot
answer never rejects anyone: the snapshot adapter raises ``RegistryUnavailable`` for the whole batch (no snapshot
loaded: the batch is retried), the HTTP adapter lists the NIKs it could not look up in ``unavailable`` so that
only those nominations wait (``pending``) while the rest of the batch is decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

import asyncpg

from services.verification import repository
from services.verification.domain import RegistryRecord
from shared.errors import TransientError

_SEX: dict[str, Literal["M", "F"]] = {"LAKI-LAKI": "M", "PEREMPUAN": "F"}

# The explicit state of one look-up. ``pending``: not answered yet (waiting for a retry); ``match``: a living,
# active record was found (whether the name matches is scored by the domain against the threshold).
LookupState = Literal["pending", "match", "no_match", "deceased", "inactive", "registry_unavailable"]
_STATE_OF_STATUS: dict[str, LookupState] = {"HIDUP": "match", "MATI": "deceased", "TIDAK_AKTIF": "inactive"}


class RegistryUnavailable(TransientError):
    """The registry cannot answer now (no snapshot loaded, service down, quota exhausted): retry the batch later."""


@dataclass(frozen=True)
class RegistryAnswer:
    """Records found, by NIK (a NIK missing from ``records`` is not in the registry), and which source answered."""

    records: Mapping[str, RegistryRecord]
    snapshot_id: int | None  # the snapshot consulted; None for a source without snapshots
    unavailable: frozenset[str] = frozenset()  # NIKs the registry could not answer now: they wait, never rejected

    def state(self, nik: str) -> LookupState:
        if nik in self.unavailable:
            return "registry_unavailable"
        record = self.records.get(nik)
        return _STATE_OF_STATUS[record.status] if record else "no_match"


class CivilRegistry(Protocol):
    async def lookup(self, niks: Sequence[str]) -> RegistryAnswer:
        """Look the NIKs up; raise ``RegistryUnavailable`` when the registry cannot answer."""
        ...


class SnapshotRegistry:
    """The latest loaded snapshot of the registry, read from this service's database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def lookup(self, niks: Sequence[str]) -> RegistryAnswer:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            # One snapshot of the database for both reads: a load committing in between cannot mix two snapshots.
            snapshot = await repository.latest_snapshot(conn)
            if snapshot is None:
                raise RegistryUnavailable("no civil-registry snapshot is loaded (run load-registry)")
            rows = await repository.registry_people(conn, sorted(set(niks)))
        return RegistryAnswer({r["nik"]: to_record(r) for r in rows}, snapshot["id"])


def to_record(row: asyncpg.Record | Mapping[str, Any]) -> RegistryRecord:
    """A registry row (lower-cased Dukcapil field names) as the domain's record."""
    return RegistryRecord(
        nik=str(row["nik"]),
        full_name=str(row["nama_lgkp"]),
        birth_date=row["tgl_lhr"],
        sex=_SEX[str(row["jenis_klmin"])],
        kel_code=str(row["kel_code"]),
        status=row["status"],
        no_kk=str(row["no_kk"]) if row.get("no_kk") else None,
    )


def record_json(record: RegistryRecord) -> dict[str, str | None]:
    """A record as stored in JSON columns (review cases, the HTTP cache), in the registry's field names."""
    return {
        "nik": record.nik,
        "nama_lgkp": record.full_name,
        "tgl_lhr": record.birth_date.isoformat(),
        "jenis_klmin": "LAKI-LAKI" if record.sex == "M" else "PEREMPUAN",
        "kel_code": record.kel_code,
        "status": record.status,
        "no_kk": record.no_kk,
    }


def from_json(data: Mapping[str, object]) -> RegistryRecord:
    return to_record({**data, "tgl_lhr": date.fromisoformat(str(data["tgl_lhr"]))})
