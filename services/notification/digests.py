"""The daily digest per desa: one message a day to the desa's officials instead of one per person.

Items (new enrolments, waitlistings, rejections to fix) accumulate in ``digest_items`` as events arrive. Once the
local time passes ``digest_time`` (16:00 WITA by default), the job makes, for every desa with news, the digest of
that local day: ``digests (desa, day)`` is inserted first and only the transaction whose insert went through takes
the open items and creates one delivery per official, so each (desa, day) gets exactly one digest across replicas,
restarts and crashes. The deliveries then travel like any other: dispatcher, retries, quiet hours, fallback.

Items arriving after the day's digest wait for the next day's. A service that was down at digest time makes the
digest when it comes back (the same day), or the next day's digest takes the items.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import asyncpg

from services.notification import digest_rules, domain, repository, repository_digests
from services.notification.handlers import failed_event, rendered_route
from services.notification.repository import NewDelivery
from services.notification.schedule import WITA
from shared import outbox
from shared.db import Conn
from shared.errors import is_transient
from shared.logs import get_logger
from shared.regions import RegionIndex

log = get_logger(__name__)

NO_OFFICIAL = "no official known for this desa"


@dataclass(frozen=True)
class DigestConfig:
    at: time = time(16, 0)
    zone: ZoneInfo = WITA
    poll_interval_s: float = 60.0
    topic_prefix: str = ""
    whatsapp_prefix: str = "payung_"


class DigestJob:
    def __init__(
        self,
        pool: asyncpg.Pool,
        regions: RegionIndex,
        config: DigestConfig,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._regions = regions
        self._config = config
        self._now = now

    async def run(self) -> None:
        """Make due digests every poll interval until cancelled."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("digest round failed", error_type=type(exc).__name__)
                else:
                    log.warning("digests waiting for the database", error_type=type(exc).__name__)
            await asyncio.sleep(self._config.poll_interval_s)

    async def run_once(self) -> int:
        """Make today's digest for every desa with news, once the digest time has passed; returns how many."""
        local = self._now().astimezone(self._config.zone)
        if local.time() < self._config.at:
            return 0
        made = 0
        for desa_code in await repository_digests.desas_with_news(self._pool):
            async with self._pool.acquire() as conn, conn.transaction():
                made += await self._make(conn, desa_code, local.date())
        return made

    async def _make(self, conn: Conn, desa_code: str, day: date) -> int:
        items = await repository_digests.take(conn, desa_code, day)
        if items is None:
            return 0  # made already (another replica, or earlier today): the items wait for tomorrow
        variables = digest_rules.digest_variables(domain.village_name(desa_code, self._regions), day, items)
        version = domain.TEMPLATE_VERSIONS[domain.DIGEST]
        rows = []
        for routes in await repository_digests.officials(conn, desa_code):
            ordered = [domain.Route(r["channel"], r["address"]) for r in routes]
            rendered = [
                rendered_route(domain.DIGEST, version, variables, r, self._config.whatsapp_prefix) for r in ordered
            ]
            delivery_id = digest_rules.digest_delivery_id(desa_code, day, ordered[0].address)
            rows.append(
                NewDelivery(
                    id=delivery_id,
                    event_id=delivery_id,
                    nomination_id=delivery_id,
                    person_key=f"desa:{desa_code}",
                    purpose=domain.DIGEST,
                    recipient_role="nominator",
                    channel=ordered[0].channel,
                    address=ordered[0].address,
                    template=domain.DIGEST,
                    template_version=version,
                    body=rendered[0]["body"],
                    failure=None,
                    routes=rendered,
                    desa_code=desa_code,
                    digest_day=day,
                )
            )
        await repository.insert_deliveries(conn, rows)
        await repository_digests.record_digest(conn, desa_code, day, len(items), len(rows))
        if rows:
            await repository.wake_dispatcher(conn)
        else:
            failed = await repository_digests.fail_held(conn, desa_code, day, NO_OFFICIAL)
            await outbox.add_events(conn, [failed_event(d) for d in failed], self._config.topic_prefix)
        log.info("digest made", desa_code=desa_code, day=day.isoformat(), items=len(items), recipients=len(rows))
        return 1
