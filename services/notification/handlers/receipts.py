"""Provider callbacks, once the route has checked their signature and read them: delivery receipts (sent /
delivered / read / failed), inbound STOP / BERHENTI, and every other inbound text as an ``InboundMessageReceived``
(``handlers.inbound``).

Idempotent and order-free: receipts are stored by (channel, message id, status) and folded into the delivery's
status (``domain.receipts.status_after``), also when the send result is recorded only later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.notification.commands import ApplyWebhook
from services.notification.domain.addresses import normalise_phone
from services.notification.domain.receipts import is_stop
from services.notification.errors import InvalidAddress
from services.notification.handlers import inbound
from services.notification.handlers.outcomes import outcome_events
from services.notification.repository import receipts as repository_receipts
from shared.db import Conn
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.notification.bootstrap import Deps

log = get_logger(__name__)


async def apply_webhook(deps: Deps, conn: Conn, cmd: ApplyWebhook) -> Handled[dict[str, int]]:
    channel = cmd.channel
    stops = []
    for message in (m for m in cmd.inbound if is_stop(m.text)):
        try:
            stops.append(normalise_phone(message.sender))
        except InvalidAddress:
            log.warning("opt-out from an unreadable number ignored", channel=channel)
    received = await inbound.receive(deps, conn, channel, [m for m in cmd.inbound if not is_stop(m.text)])
    keys = [(channel, r.provider_message_id) for r in cmd.receipts]
    await repository_receipts.lock_keys(conn, keys)
    new = await repository_receipts.store_receipts(conn, channel, cmd.receipts)
    changed, failed = await repository_receipts.apply_receipts(conn, keys)
    opted = [a for a in stops if await repository_receipts.add_opt_out(conn, a, f"inbound:{channel}")]
    log.info(
        "webhook", channel=channel, receipts=len(cmd.receipts), new=new, applied=changed, opt_outs=len(opted),
        inbound=len(received),
    )  # fmt: skip
    answer = {
        "receipts": len(cmd.receipts),
        "new": new,
        "applied": changed,
        "opt_outs": len(opted),
        "inbound": len(received),
    }
    return Handled(answer, [*outcome_events([], failed), *received])
