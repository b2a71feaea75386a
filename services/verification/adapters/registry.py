"""The civil registry (Disdukcapil), behind one interface, in two steps: ask, then read the answers.

``CivilRegistry.prefetch`` asks the registry about a batch of NIKs (over the network for the HTTP and DCI adapters:
called before any database transaction opens, so no transaction and its row locks wait on a remote service);
``answer`` then says what is known of them, from what was fetched and the answer cache only, inside the caller's
transaction. A NIK without an answer is ``registry_unavailable``: its nomination waits (``pending``) and the retry
job asks again; a registry that cannot answer never rejects anyone. Adapters: ``SnapshotRegistry`` answers from the
snapshot table loaded by ``python -m services.verification load-registry`` (nothing to prefetch; no snapshot
loaded raises ``RegistryUnavailable``: the batch is retried); ``adapters.http.HttpRegistry`` asks a Dukcapil-style
web service; ``adapters.dci.DciRegistry`` the DCI registry core API.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol

import asyncpg

from services.verification.domain import RegistryRecord
from services.verification.errors import RegistryUnavailable
from services.verification.repository import registry as repository
from shared.db import Conn

_SEX: dict[str, Literal["M", "F"]] = {"LAKI-LAKI": "M", "PEREMPUAN": "F"}

# The explicit state of one look-up. ``pending``: not answered yet (waiting for a retry); ``match``: a living,
# active record was found (whether the name matches is scored by the domain against the threshold).
LookupState = Literal["pending", "match", "no_match", "deceased", "inactive", "registry_unavailable"]
_STATE_OF_STATUS: dict[str, LookupState] = {"HIDUP": "match", "MATI": "deceased", "TIDAK_AKTIF": "inactive"}


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
    async def prefetch(self, niks: Sequence[str]) -> None:
        """Ask the registry about the NIKs it has no fresh answer for (network: outside any transaction). Never
        raises for an unreachable registry: what it could not learn stays unanswered."""
        ...

    async def answer(self, conn: Conn, niks: Sequence[str]) -> RegistryAnswer:
        """What is known of the NIKs now, without asking the registry; raise ``RegistryUnavailable`` when the
        registry cannot answer at all."""
        ...


@dataclass(frozen=True)
class Lookup:
    """One NIK's answer: its state, the record found, the error when the registry could not answer."""

    state: LookupState
    record: RegistryRecord | None = None
    error: str = ""


DEFINITE: frozenset[LookupState] = frozenset({"match", "no_match", "deceased", "inactive"})


class Fetched:
    """The answers a prefetch got, kept in memory for the transaction that follows (the answer cache table keeps
    only definite answers, and none when its time to live is 0). Bounded: the oldest go first."""

    def __init__(self, keep_s: float, size: int = 50_000, clock: Any = time.monotonic) -> None:
        self._keep_s, self._size, self._clock = keep_s, size, clock
        self._answers: dict[str, tuple[float, Lookup]] = {}

    def put(self, answers: Mapping[str, Lookup]) -> None:
        now = self._clock()
        for nik, lookup in answers.items():
            self._answers.pop(nik, None)  # re-inserted last: the dict's order is the age
            self._answers[nik] = (now, lookup)
        while len(self._answers) > self._size:
            del self._answers[next(iter(self._answers))]

    def forget(self, niks: Sequence[str]) -> None:
        """Drop what was fetched of ``niks`` (a re-run that must ask the registry afresh)."""
        for nik in niks:
            self._answers.pop(nik, None)

    def get(self, niks: Sequence[str]) -> dict[str, Lookup]:
        oldest = self._clock() - self._keep_s
        return {n: hit[1] for n in niks if (hit := self._answers.get(n)) is not None and hit[0] >= oldest}


async def known(conn: Conn | asyncpg.Pool | None, fetched: Fetched, niks: Sequence[str]) -> dict[str, Lookup]:
    """The answers of the NIKs at hand: the cache table's first (a callback may have updated it since: a death
    notification), else what the last prefetch got (none in the table without a database: an adapter made
    without a pool)."""
    found: dict[str, Lookup] = {}
    if conn is not None and niks:
        for r in await repository.cached_answers(conn, niks):
            found[r["nik"]] = Lookup(r["state"], from_json(r["record"]) if r["record"] else None)
    return fetched.get([n for n in niks if n not in found]) | found


def as_answer(found: Mapping[str, Lookup], niks: Sequence[str], waiting: Sequence[str] = ()) -> RegistryAnswer:
    """The answer of a batch: a NIK with no answer, or an unavailable one, or one still ``waiting`` for a
    callback, is unavailable (its nomination waits)."""
    unavailable = {n for n in niks if n not in found or found[n].state == "registry_unavailable"} | set(waiting)
    records = {n: a.record for n, a in found.items() if a.record is not None and n not in unavailable}
    return RegistryAnswer(records, None, frozenset(unavailable))


class SnapshotRegistry:
    """The latest loaded snapshot of the registry, read from this service's database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def prefetch(self, niks: Sequence[str]) -> None:
        """Nothing to ask: the snapshot is in the database."""

    async def answer(self, conn: Conn, niks: Sequence[str]) -> RegistryAnswer:
        return await self.lookup(niks)

    async def lookup(self, niks: Sequence[str]) -> RegistryAnswer:
        # A connection of its own at repeatable read: one snapshot of the database for both reads, so a load
        # committing in between cannot mix two snapshots (the caller's transaction reads at read committed).
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
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
