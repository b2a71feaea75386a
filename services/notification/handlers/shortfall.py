"""The ``forecasts`` consumer group (issue 15): a ``QuotaShortfallForecast`` becomes one message to each programme
admin (``PAYUNG_PROGRAMME_ADMIN_CONTACTS``) and to each known official of the desa it lists (domain/shortfall.py).

Like a digest, each delivery is about no nomination: its id (stable per forecast and recipient) stands in for the
event and the nomination, so a redelivered forecast maps onto the same deliveries, and it emits no event of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.notification.domain import messages, shortfall
from services.notification.domain.deliveries import NewDelivery
from services.notification.domain.routes import Route
from services.notification.domain.texts import TEMPLATE_VERSIONS, village_name
from services.notification.repository import deliveries as repository
from services.notification.repository import digests as repository_digests
from shared.contracts import Envelope, QuotaShortfallForecast
from shared.db import Conn
from shared.logs import get_logger

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


async def plan_shortfall(deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    """Plan the messages of every forecast of the batch; emits nothing."""
    rows: list[NewDelivery] = []
    for env in events:
        p: QuotaShortfallForecast = env.payload
        recipients: list[tuple[list[Route], str | None, str | None]] = [
            (routes, None, None) for routes in shortfall.admin_routes(deps.settings.admin_contacts, deps.policy)
        ]
        for d in p.desa:
            for stored in await repository_digests.officials(conn, d.desa_code):
                routes = [Route(r["channel"], r["address"]) for r in stored]
                recipients.append((routes, d.desa_code, village_name(d.desa_code, deps.regions)))
        for routes, desa_code, village in recipients:
            rows.append(_delivery(deps, env, routes, desa_code, shortfall.message_variables(p, deps.regions, village)))
        log.info("shortfall planned", funding_source=p.funding_source, recipients=len(recipients))
    if await repository.insert_deliveries(conn, rows):
        await repository.wake_dispatcher(conn)
    return []


def _delivery(
    deps: Deps, env: Envelope[Any], routes: list[Route], desa_code: str | None, variables: dict[str, Any]
) -> NewDelivery:
    version = TEMPLATE_VERSIONS[shortfall.PURPOSE]
    rendered = [messages.rendered_route(shortfall.PURPOSE, version, variables, r, deps.whatsapp_prefix) for r in routes]
    delivery_id = shortfall.delivery_id(env.payload.forecast_id, routes[0].address)
    return NewDelivery(
        id=delivery_id,
        event_id=delivery_id,
        nomination_id=delivery_id,
        person_key=env.person_key,
        purpose=shortfall.PURPOSE,
        recipient_role="nominator",  # an official: a programme admin or a desa's nominator
        channel=routes[0].channel,
        address=routes[0].address,
        template=shortfall.PURPOSE,
        template_version=version,
        body=rendered[0]["body"],
        failure=None,
        routes=rendered,
        desa_code=desa_code,
    )
