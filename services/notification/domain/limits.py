"""The per-recipient daily limit: beyond ``limit`` messages to one address in one local day, a message is not sent.

The dispatch job asks, for each claimed round, how many messages every address of the round was already sent today
(``repository.limits.sent_today``) and this module decides, in the round's order, which deliveries are over the
limit. Over the limit, a message to a desa's official (a nominator) folds into the desa's daily digest: it is held
and resolved with the digest, which already lists the case. Any other message (a beneficiary's own) waits for the
next local day. Digests themselves are never limited: they are where the surplus goes.

Why: 2,000 rejected submissions in three minutes sent 2,000 messages to one nominator's phone. Pure rules only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notification.domain.deliveries import Delivery
from services.notification.domain.texts import DIGEST


@dataclass(frozen=True)
class OverLimit:
    fold: list[Delivery]  # to hold inside the desa's digest
    next_day: list[Delivery]  # to send from the next local day on


def day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``now``'s local day (the limit's window)."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


def next_day(now: datetime, zone: ZoneInfo) -> datetime:
    return day_start(now, zone) + timedelta(days=1)


def over_limit(claimed: Sequence[Delivery], sent_today: Mapping[str, int], limit: int, digests: bool) -> OverLimit:
    """Which of ``claimed`` (in order) would pass ``limit`` messages today to their address. ``limit`` 0: none."""
    fold: list[Delivery] = []
    later: list[Delivery] = []
    if limit <= 0:
        return OverLimit(fold, later)
    counts = dict(sent_today)
    for delivery in claimed:
        if delivery.purpose == DIGEST or delivery.address is None:
            continue
        if counts.get(delivery.address, 0) < limit:
            counts[delivery.address] = counts.get(delivery.address, 0) + 1
            continue
        foldable = digests and delivery.recipient_role == "nominator" and delivery.desa_code is not None
        (fold if foldable else later).append(delivery)
    return OverLimit(fold, later)
