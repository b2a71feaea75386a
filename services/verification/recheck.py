"""Re-check every verified member against the civil registry and the wage-earner roster (before yearly renewal).

``python -m services.verification recheck``: pages through the verified nominations, asks the configured registry
adapter about their NIKs (a snapshot, the HTTP service, or DCI in sync mode: a yearly sweep cannot wait for
callbacks) and publishes ``RegistryPersonUpdated`` through the outbox, page by page, for each member now dead,
inactive, living outside the programme's regency (``domain.life_event`` against what verification required) or on
the wage-earner roster (``became_wage_earner``). Enrolment ends those seats as for any registry life event, so
renewal (``python -m services.enrolment renew``) rolls only the members still eligible. A change is announced once
per nomination (table ``announced_life_events``): running the sweep again announces nothing twice. NIKs the registry
cannot answer now are counted and left for the next run; a member the registry no longer knows is counted, not
ended (a human looks: a registry gap must not end anyone's cover).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol

import asyncpg

from services.verification import dci_repository, domain, repository
from services.verification.registry import CivilRegistry, RegistryUnavailable, SnapshotRegistry
from shared import db, outbox
from shared.contracts import Envelope, PersonChange, RegistryPersonUpdated, new_envelope
from shared.db import Conn
from shared.logs import get_logger
from shared.settings import ServiceSettings

log = get_logger(__name__)


@dataclass
class RecheckResult:
    checked: int = 0
    announced: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0
    not_found: int = 0


async def _page(conn: Conn, after: uuid.UUID | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT nomination_id, person_key, nik, programme_regency FROM verifications
        WHERE outcome = 'verified' AND nik IS NOT NULL AND programme_regency IS NOT NULL
          AND ($1::uuid IS NULL OR nomination_id > $1)
        ORDER BY nomination_id LIMIT $2
        """,
        after,
        limit,
    )


async def recheck(
    pool: asyncpg.Pool, registry: CivilRegistry, topic_prefix: str = "", today: date | None = None, page: int = 500
) -> RecheckResult:
    """Sweep every verified member once; see the module docstring."""
    effective = today or datetime.now(domain.WITA).date()
    result = RecheckResult()
    after: uuid.UUID | None = None
    while True:
        async with pool.acquire() as conn:
            rows = await _page(conn, after, page)
        if not rows:
            return result
        after = rows[-1]["nomination_id"]
        niks = [r["nik"] for r in rows]
        try:
            answer = await registry.lookup(niks)
        except RegistryUnavailable as exc:
            log.warning("recheck: registry unavailable", error=str(exc))
            result.unavailable += len(rows)
            result.checked += len(rows)
            continue
        async with pool.acquire() as conn, conn.transaction():
            wage_earners = await repository.wage_earners(conn, niks)
            events: list[Envelope[RegistryPersonUpdated]] = []
            for row in rows:
                change = _change(row, answer.state(row["nik"]), answer.records.get(row["nik"]), wage_earners)
                if isinstance(change, str):  # "unavailable" or "not_found": counted, nothing to announce
                    setattr(result, change, getattr(result, change) + 1)
                    continue
                if change is None:
                    continue
                kind, new_regency = change
                payload = RegistryPersonUpdated(
                    nomination_id=row["nomination_id"],
                    nik=row["nik"],
                    change=kind,
                    effective_date=effective,
                    new_regency=new_regency,
                    snapshot_id=answer.snapshot_id or 0,
                )
                envelope = new_envelope(payload, producer="verification", person_key=row["person_key"],
                                        correlation_id=row["nomination_id"])  # fmt: skip
                if await dci_repository.claim_life_event(
                    conn, row["nomination_id"], kind, "recheck", envelope.event_id
                ):
                    events.append(envelope)
                    result.announced[kind] += 1
            await outbox.add_events(conn, events, topic_prefix)
        result.checked += len(rows)


def _change(
    row: asyncpg.Record, state: str, record: domain.RegistryRecord | None, wage_earners: set[str]
) -> tuple[PersonChange, str | None] | str | None:
    if state == "registry_unavailable":
        return "unavailable"
    if state == "no_match" or record is None:
        return "not_found"
    change = domain.life_event(None, record, row["programme_regency"])
    if change is not None:
        return change
    if row["nik"] in wage_earners:
        return "became_wage_earner", None
    return None


class _Closable(Protocol):
    async def aclose(self) -> None: ...


def _registry(settings: ServiceSettings, pool: asyncpg.Pool) -> tuple[CivilRegistry, _Closable | None]:
    """The configured adapter; DCI is asked synchronously (a sweep cannot wait for callbacks)."""
    from services.verification import app
    from services.verification.settings import VerificationSettings

    assert isinstance(settings, VerificationSettings)
    if settings.registry_adapter == "http":
        from services.verification.registry_http import HttpRegistry

        http = HttpRegistry(app.http_config(settings), pool)
        return http, http
    if settings.registry_adapter == "dci":
        dci = app.dci_registry(settings, pool)
        dci.config = replace(dci.config, mode="sync")
        return dci, dci
    return SnapshotRegistry(pool), None


async def _run(settings: ServiceSettings) -> RecheckResult:
    pool = await db.create_pool(settings.database_url, 1, 4)
    try:
        registry, closable = _registry(settings, pool)
        try:
            return await recheck(pool, registry, settings.topic_prefix)
        finally:
            if closable is not None:
                await closable.aclose()
    finally:
        await pool.close()


def command(settings: ServiceSettings, args: list[str]) -> int:
    """The ``recheck`` command line."""
    parser = argparse.ArgumentParser(prog="services.verification recheck", description=__doc__)
    parser.parse_args(args)
    result = asyncio.run(_run(settings))
    announced = ", ".join(f"{k} {n}" for k, n in sorted(result.announced.items())) or "none"
    print(f"rechecked {result.checked} verified members: life events {announced}; registry could not answer "
          f"{result.unavailable}, not in the registry {result.not_found}")  # fmt: skip
    log.info("recheck done", checked=result.checked, unavailable=result.unavailable, not_found=result.not_found)
    return 1 if result.unavailable else 0
