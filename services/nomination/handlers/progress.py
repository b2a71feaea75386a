"""Recording what downstream services report about nominations (verified, rejected, enrolled, waitlisted,
notified, ended, refused): the event handler of the ``progress`` consumer group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.nomination import domain
from services.nomination.errors import ImpossibleTransition, InconsistentEvent
from services.nomination.repository import nominations
from shared.contracts import Envelope, Payload
from shared.db import Conn

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


async def record_progress(deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    """Fold a batch of downstream events into nominations, in one statement per table; produces no event."""
    ids = [e.payload.nomination_id for e in events]
    progress = await nominations.lock_progress(conn, ids)
    history = []
    for event in events:
        nomination_id = event.payload.nomination_id  # every progress payload names its nomination
        if nomination_id not in progress:
            raise InconsistentEvent(f"{event.event_type} {event.event_id} names a nomination this service never issued")
        try:
            progress[nomination_id] = domain.apply(progress[nomination_id], event.payload)
        except ImpossibleTransition as exc:
            raise InconsistentEvent(f"{event.event_type} {event.event_id}: {exc}") from None
        history.append(
            (
                nomination_id,
                event.event_id,
                domain.STAGE_OF_EVENT[event.event_type],
                _detail(event.payload),
                event.occurred_at,
            )
        )
    await nominations.save_progress(conn, progress)
    await nominations.add_history(conn, history)
    return []


# What the history shows of an event: decisions and references, never personal data.
_KEPT = (
    "coverage_end",
    "layer",
    "reasons",
    "flags",
    "name_score",
    "funding_source",
    "membership_number",
    "programme_year",
    "position",
    "coverage_start",
    "purpose",
    "channel",
    "recipient_role",
    "reason",
)


def _detail(payload: Payload) -> dict[str, Any]:
    data = payload.model_dump(mode="json")
    return {k: data[k] for k in _KEPT if k in data}
