"""The civil registry (Disdukcapil), behind one interface.

``CivilRegistry`` answers a batch of NIKs at once. ``SnapshotRegistry`` answers from the snapshot table loaded by
``python -m services.verification load-registry`` (see ``snapshot_loader``); an adapter for a live registry
service implements the same interface and raises ``RegistryUnavailable`` for outages, refused logins and
exhausted quotas, so the batch is retried instead of people being rejected for the registry's trouble.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from services.verification import repository
from services.verification.domain import RegistryRecord
from shared.errors import TransientError

_SEX = {"LAKI-LAKI": "M", "PEREMPUAN": "F"}


class RegistryUnavailable(TransientError):
    """The registry cannot answer now (no snapshot loaded, service down, quota exhausted): retry the batch later."""


@dataclass(frozen=True)
class RegistryAnswer:
    """Records found, by NIK (a NIK missing from ``records`` is not in the registry), and which source answered."""

    records: Mapping[str, RegistryRecord]
    snapshot_id: int | None  # the snapshot consulted; None for a source without snapshots


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


def to_record(row: Mapping[str, object]) -> RegistryRecord:
    """A registry row (lower-cased Dukcapil field names) as the domain's record."""
    return RegistryRecord(
        nik=str(row["nik"]),
        full_name=str(row["nama_lgkp"]),
        birth_date=row["tgl_lhr"],  # type: ignore[arg-type]
        sex=_SEX[str(row["jenis_klmin"])],  # type: ignore[arg-type]
        kel_code=str(row["kel_code"]),
        status=row["status"],  # type: ignore[arg-type]
    )
