"""The DCI registry's callbacks (on-search, on-subscribe, notify) and the death subscription.

Each callback is one transaction: its signature and address checked (``DciRegistry.check``), its message id
recorded (a replay is refused, changing nothing), then applied. An on-search answer fills the answer cache and
makes the nominations waiting for it due at once, and wakes the retry job once committed (``searched``). A death
notification announces ``RegistryPersonUpdated`` once per verified nomination of each person who died.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from services.verification.adapters.dci import DEATH, DciRegistry, interpret, person_from_dci
from services.verification.adapters.registry import DEFINITE, Lookup
from services.verification.commands import ClaimSubscription, DciCallback, SettleSubscription
from services.verification.domain import RegistryRecord
from services.verification.errors import CallbackRefused
from services.verification.repository import dci as dci_repo
from shared import messaging
from shared.contracts import Envelope, RegistryPersonUpdated, new_envelope
from shared.db import Conn
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps

log = get_logger(__name__)


def _registry(deps: Deps) -> DciRegistry:
    if deps.dci is None:  # the routes answer 404 before: this service does not use the DCI adapter
        raise CallbackRefused("rjct.action.not_supported", "DCI is not configured", 404)
    return deps.dci


async def _accepted(deps: Deps, conn: Conn, cmd: DciCallback, action: str) -> None:
    """Verify and record one callback (inside its transaction)."""
    sender = _registry(deps).check(cmd.body, action)
    if not await dci_repo.accept_message(conn, sender, str(cmd.body["header"].get("message_id")), action):
        raise CallbackRefused("rjct.message_id.duplicate", "this message was received before (replay)")


async def on_search(deps: Deps, conn: Conn, cmd: DciCallback) -> Handled[int]:
    """Apply a signed on-search callback: cache the answers, wake the waiting nominations. Answers NIKs answered."""
    await _accepted(deps, conn, cmd, "on-search")
    message = cmd.body.get("message") or {}
    refs = await dci_repo.searches_of(conn, str(message.get("transaction_id")))
    if not refs:
        raise CallbackRefused("rjct.reference_id.invalid", "no open search with this transaction_id", 422)
    answers: dict[str, Lookup] = {}
    for item in message.get("search_response") or ():
        nik = refs.get(str(item.get("reference_id")))
        if nik is not None:
            answers[nik] = interpret(item)
    applied = [ref for ref, nik in refs.items() if nik in answers]
    await dci_repo.mark_answered(conn, str(message["transaction_id"]), applied)
    definite = {n: a for n, a in answers.items() if a.state in DEFINITE}
    await _registry(deps).remember(conn, definite)
    await dci_repo.wake_pending(conn, list(definite))
    log.info("on-search applied", answered=len(definite), unavailable=len(answers) - len(definite))
    return Handled(len(definite))


async def searched(deps: Deps, cmd: DciCallback) -> int:
    """``on_search`` in its transaction, then the retry job woken: the answers are committed when it looks."""
    answered = await messaging.run(deps, on_search, cmd)
    _registry(deps).answered.set()
    return answered


async def on_subscribe(deps: Deps, conn: Conn, cmd: DciCallback) -> Handled[bool]:
    await _accepted(deps, conn, cmd, "on-subscribe")
    message = cmd.body.get("message") or {}
    items = message.get("subscribe_response") or [{}]
    ok: bool = items[0].get("status") == "succ"
    codes = [s.get("code") for s in items[0].get("subscriptions") or () if s.get("code")]
    if not await dci_repo.settle_subscription(
        conn, str(message.get("transaction_id")), "active" if ok else "refused", codes[0] if codes else None
    ):
        raise CallbackRefused("rjct.reference_id.invalid", "no subscription with this transaction_id", 422)
    return Handled(ok)


async def notify(deps: Deps, conn: Conn, cmd: DciCallback) -> Handled[int]:
    """Apply a signed death notification: a life event per verified nomination of each person who died."""
    await _accepted(deps, conn, cmd, "notify")
    message_id = str(cmd.body["header"]["message_id"])
    deaths: dict[str, tuple[RegistryRecord, date]] = {}
    for event in (cmd.body.get("message") or {}).get("notify_event") or ():
        records = (event.get("data") or {}).get("reg_records") or []
        for raw in [records] if isinstance(records, Mapping) else records:
            try:
                person = person_from_dci(raw)
                died = date.fromisoformat(str(raw["deathdate"])[:10])
            except (KeyError, ValueError, TypeError):
                log.warning("notification record unreadable: skipped")
                continue
            deaths[person.nik] = (person, died)
    await _registry(deps).remember(conn, {n: Lookup("deceased", p) for n, (p, _d) in deaths.items()})
    events: list[Envelope[Any]] = []
    for row in await dci_repo.verified_nominations(conn, list(deaths)):
        envelope = new_envelope(
            RegistryPersonUpdated(
                nomination_id=row["nomination_id"],
                nik=row["nik"],
                change="deceased",
                effective_date=deaths[row["nik"]][1],
                snapshot_id=0,
            ),
            producer="verification",
            person_key=row["person_key"],
            correlation_id=row["nomination_id"],
        )
        if await dci_repo.claim_life_event(conn, row["nomination_id"], "deceased", message_id, envelope.event_id):
            events.append(envelope)
    log.info("death notification applied", people=len(deaths), life_events=len(events))
    return Handled(len(events), events)


# ------------------------------------------------------------------------------------------ death subscription


async def claim_subscription(deps: Deps, conn: Conn, cmd: ClaimSubscription) -> Handled[bool]:
    """Record the subscription about to be asked for; False when one exists already."""
    # Replicas start together: the lock makes the check and the insert one step, so only one subscribes.
    await dci_repo.lock_subscriptions(conn)
    if await dci_repo.subscription(conn, DEATH) is not None:
        return Handled(False)
    await dci_repo.add_subscription(conn, cmd.transaction_id, DEATH)
    return Handled(True)


async def settle_subscription(deps: Deps, conn: Conn, cmd: SettleSubscription) -> Handled[bool]:
    return Handled(await dci_repo.settle_subscription(conn, cmd.transaction_id, cmd.status, cmd.code))


async def subscribe(deps: Deps) -> bool:
    """Subscribe to death events unless a subscription exists; True when there is one."""
    registry, transaction_id = _registry(deps), str(uuid.uuid4())
    if not await messaging.run(deps, claim_subscription, ClaimSubscription(transaction_id=transaction_id)):
        return True
    if await registry.ask_subscription(transaction_id):
        return True
    await messaging.run(deps, settle_subscription, SettleSubscription(transaction_id=transaction_id, status="refused"))
    return False


async def subscribe_round(deps: Deps) -> Next:
    """The subscription job's step: done once the registry acknowledged (or a subscription already exists)."""
    return Next.STOP if await subscribe(deps) else Next.WAIT
