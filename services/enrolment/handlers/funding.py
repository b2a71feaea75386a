"""The funding source configuration: synced into ``funding_sources`` at startup and before a renewal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from services.enrolment import domain
from services.enrolment.commands import SyncFundingSources
from services.enrolment.errors import QuotaBelowSeatsTaken
from services.enrolment.handlers.seats import promote
from services.enrolment.repository import lifecycle as lrepo
from services.enrolment.repository import seats as srepo
from shared import logs
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps

log = logs.get_logger(__name__)


async def sync_funding_sources(deps: Deps, conn: Conn, _cmd: SyncFundingSources) -> Handled[int]:
    """Bring ``funding_sources`` in line with the configuration for the programme year; answers how many people
    were promoted.

    Missing sources are inserted, existing ones get the configured name, quota, priority and premium; a quota
    below the seats a source has already handed out is refused (``QuotaBelowSeatsTaken``) and nothing changes.
    Sources that are no longer configured keep their rows and seats but give no new seats. Free seats (a raised
    quota) go to the people waiting in the year, in arrival order, in the same transaction.
    """
    settings = deps.settings
    year = settings.programme_year
    used = await srepo.lock_used(conn, year)
    try:
        domain.check_quotas({s.code: s.quota for s in settings.funding_sources}, used, year)
    except QuotaBelowSeatsTaken as exc:
        log.error("funding source configuration refused", error=str(exc))
        raise
    await srepo.upsert_funding_sources(conn, year, settings.funding_sources)
    # A raised quota (or a new source) goes to the people already waiting, before any new arrival.
    sources, names = await lrepo.lock_year(conn, year)
    confirmations, promoted = await promote(deps, conn, year, sources, names, None, datetime.now(UTC))
    log.info(
        "funding sources synced",
        programme_year=year,
        sources=[s.code for s in settings.funding_sources],
        unconfigured=sorted(set(used) - {s.code for s in settings.funding_sources}),
        promoted=promoted,
    )
    return Handled(promoted, confirmations)
