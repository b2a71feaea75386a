"""The digest job: the daily digest per desa, one message a day to the desa's officials instead of one per person.

Items (new enrolments, waitlistings, rejections to fix) accumulate in ``digest_items`` as events arrive. Once the
local time passes the digest time (16:00 WITA by default), the job makes, for every desa with news, the digest of
that local day: ``digests (desa, day)`` is inserted first and only the transaction whose insert went through takes
the open items and creates one delivery per official, so each (desa, day) gets exactly one digest across replicas,
restarts and crashes. The deliveries then travel like any other: dispatch job, retries, quiet hours, fallback.

Items arriving after the day's digest wait for the next day's. A service that was down at digest time makes the
digest when it comes back (the same day), or the next day's digest takes the items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.notification.commands import DesasWithNews, MakeDigest
from services.notification.domain import digests, messages
from services.notification.domain.deliveries import NewDelivery
from services.notification.domain.routes import Route
from services.notification.domain.texts import DIGEST, TEMPLATE_VERSIONS, village_name
from services.notification.handlers.outcomes import failed_event
from services.notification.repository import deliveries as repository
from services.notification.repository import digests as repository_digests
from shared import messaging
from shared.db import Conn
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


async def step(deps: Deps) -> Next:
    await make_due(deps)
    return Next.WAIT


async def make_due(deps: Deps) -> int:
    """Make today's digest for every desa with news, once the digest time has passed; returns how many."""
    local = deps.now().astimezone(deps.digest.zone)
    if local.time() < deps.digest.at:
        return 0
    made = 0
    for desa_code in await messaging.run(deps, desas_with_news, DesasWithNews()):
        made += await messaging.run(deps, make_digest, MakeDigest(desa_code=desa_code, day=local.date()))
    return made


async def desas_with_news(deps: Deps, conn: Conn, cmd: DesasWithNews) -> Handled[list[str]]:
    return Handled(await repository_digests.desas_with_news(conn))


async def make_digest(deps: Deps, conn: Conn, cmd: MakeDigest) -> Handled[int]:
    """The (desa, day) digest, once: 1 when this call made it, 0 when it existed (the items wait for tomorrow)."""
    desa_code, day = cmd.desa_code, cmd.day
    items = await repository_digests.take(conn, desa_code, day)
    if items is None:
        return Handled(0)  # made already (another replica, or earlier today)
    variables = digests.digest_variables(village_name(desa_code, deps.regions), day, items)
    version = TEMPLATE_VERSIONS[DIGEST]
    rows = []
    for routes in await repository_digests.officials(conn, desa_code):
        ordered = [Route(r["channel"], r["address"]) for r in routes]
        rendered = [messages.rendered_route(DIGEST, version, variables, r, deps.whatsapp_prefix) for r in ordered]
        delivery_id = digests.digest_delivery_id(desa_code, day, ordered[0].address)
        rows.append(
            NewDelivery(
                id=delivery_id,
                event_id=delivery_id,
                nomination_id=delivery_id,
                person_key=f"desa:{desa_code}",
                purpose=DIGEST,
                recipient_role="nominator",
                channel=ordered[0].channel,
                address=ordered[0].address,
                template=DIGEST,
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
    failed = []
    if rows:
        await repository.wake_dispatcher(conn)
    else:
        failed = await repository_digests.fail_held(conn, desa_code, day, digests.NO_OFFICIAL)
    log.info("digest made", desa_code=desa_code, day=day.isoformat(), items=len(items), recipients=len(rows))
    return Handled(1, [failed_event(d) for d in failed])
