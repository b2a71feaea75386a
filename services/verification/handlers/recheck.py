"""Re-check every verified member against the civil registry and the wage-earner roster (before yearly renewal).

``python -m services.verification recheck`` (``__main__``): pages through the verified nominations, asks the configured
registry adapter about their NIKs (a snapshot, the HTTP service, or DCI in sync mode: a yearly sweep cannot wait for
callbacks) and publishes ``RegistryPersonUpdated`` through the outbox, page by page, for each member now dead, inactive,
living outside the programme's regency (``domain.life_event`` against what verification required) or on the wage-earner
roster (``became_wage_earner``). Enrolment ends those seats as for any registry life event, so renewal (``python -m
services.enrolment renew``) rolls only the members still eligible. A change is announced once per nomination (table
``announced_life_events``): running the sweep again announces nothing twice. NIKs the registry cannot answer now are
counted and left for the next run; a member the registry no longer knows is counted, not ended (a human looks: a
registry gap must not end anyone's cover).

Each page: read the members, ask the registry (outside any transaction), then one transaction announces.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.verification import domain
from services.verification.commands import Member, ReadMembers, RecheckPage
from services.verification.errors import RegistryUnavailable
from services.verification.repository import dci as dci_repository
from services.verification.repository import verifications as repository
from shared import messaging
from shared.contracts import Envelope, PersonChange, RegistryPersonUpdated, new_envelope
from shared.db import Conn
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps

log = get_logger(__name__)


@dataclass
class RecheckResult:
    checked: int = 0
    announced: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0
    not_found: int = 0

    def add(self, other: RecheckResult) -> None:
        self.checked += other.checked
        self.announced.update(other.announced)
        self.unavailable += other.unavailable
        self.not_found += other.not_found


async def recheck(deps: Deps, today: date | None = None, page: int = 500) -> RecheckResult:
    """Sweep every verified member once; see the module docstring."""
    effective = today or datetime.now(domain.WITA).date()
    result = RecheckResult()
    after = None
    while True:
        members = await messaging.run(deps, read_members, ReadMembers(after=after, limit=page))
        if not members:
            return result
        after = members[-1].nomination_id
        await deps.registry.prefetch([m.nik for m in members])
        result.add(await messaging.run(deps, recheck_page, RecheckPage(members=tuple(members), effective=effective)))


async def read_members(deps: Deps, conn: Conn, cmd: ReadMembers) -> Handled[list[Member]]:
    rows = await repository.verified_page(conn, cmd.after, cmd.limit)
    return Handled([Member(**dict(r)) for r in rows])


async def recheck_page(deps: Deps, conn: Conn, cmd: RecheckPage) -> Handled[RecheckResult]:
    """Announce, once per nomination, what the registry's answers at hand changed for these members."""
    result = RecheckResult(checked=len(cmd.members))
    niks = [m.nik for m in cmd.members]
    try:
        answer = await deps.registry.answer(conn, niks)
    except RegistryUnavailable as exc:
        log.warning("recheck: registry unavailable", error=str(exc))
        result.unavailable += len(cmd.members)
        return Handled(result)
    wage_earners = await repository.wage_earners(conn, niks)
    events: list[Envelope[Any]] = []
    for member in cmd.members:
        change = _change(member, answer.state(member.nik), answer.records.get(member.nik), wage_earners)
        if isinstance(change, str):  # "unavailable" or "not_found": counted, nothing to announce
            setattr(result, change, getattr(result, change) + 1)
            continue
        if change is None:
            continue
        kind, new_regency = change
        payload = RegistryPersonUpdated(
            nomination_id=member.nomination_id,
            nik=member.nik,
            change=kind,
            effective_date=cmd.effective,
            new_regency=new_regency,
            snapshot_id=answer.snapshot_id or 0,
        )
        envelope = new_envelope(payload, producer="verification", person_key=member.person_key,
                                correlation_id=member.nomination_id)  # fmt: skip
        if await dci_repository.claim_life_event(conn, member.nomination_id, kind, "recheck", envelope.event_id):
            events.append(envelope)
            result.announced[kind] += 1
    return Handled(result, events)


def _change(
    member: Member, state: str, record: domain.RegistryRecord | None, wage_earners: set[str]
) -> tuple[PersonChange, str | None] | str | None:
    if state == "registry_unavailable":
        return "unavailable"
    if state == "no_match" or record is None:
        return "not_found"
    change = domain.life_event(None, record, member.programme_regency)
    if change is not None:
        return change
    if member.nik in wage_earners:
        return "became_wage_earner", None
    return None
