"""Recording what downstream services report about nominations (verified, rejected, enrolled, waitlisted,
notified, ended, refused, an objection reviewed): the event handler of the ``progress`` consumer group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.nomination import domain
from services.nomination.errors import ImpossibleTransition, InconsistentEvent
from services.nomination.handlers import objections
from services.nomination.repository import nominations
from shared.contracts import Envelope, ObjectionReviewed, Payload
from shared.db import Conn

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


async def record_progress(deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    """Fold a batch of downstream events into nominations, in one statement per table; produces no event."""
    ids = [e.payload.nomination_id for e in events]
    progress = await nominations.lock_progress(conn, ids)
    before = {nomination_id: p.outcome for nomination_id, p in progress.items()}
    history = []
    for event in events:
        nomination_id = event.payload.nomination_id  # every progress payload names its nomination
        if nomination_id not in progress:
            raise InconsistentEvent(f"{event.event_type} {event.event_id} names a nomination this service never issued")
        if isinstance(event.payload, ObjectionReviewed):
            await objections.record_review(conn, event)
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
    # A nomination an upheld objection re-verified becomes live again (the one-live-nomination index): not while the
    # person has another live nomination (re-nominated since the rejection; filing refuses that case, this is the
    # race). The event is dead-lettered and the nomination stays rejected.
    revived = [i for i, p in progress.items() if not _live(before[i]) and _live(p.outcome)]
    twins = await nominations.with_live_twin(conn, revived)
    if twins:
        raise InconsistentEvent(f"nomination {twins[0]} re-verified while a newer nomination of the person is live")
    await nominations.save_progress(conn, progress)
    await nominations.add_history(conn, history)
    return []


def _live(outcome: str | None) -> bool:
    return outcome is None or outcome in ("waitlisted", "enrolled")


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
    "objection_id",
    "restored_by_objection",
    "state",
    "ground",
    "reason_code",
)


def _detail(payload: Payload) -> dict[str, Any]:
    data = payload.model_dump(mode="json")
    return {k: data[k] for k in _KEPT if k in data}
