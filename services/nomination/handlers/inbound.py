"""Keyword messages (``CEK``, ``SANGGAH``, ``DAFTAR``): the event handler of the ``inbound`` consumer group.

One ``InboundMessageAnswered`` per message, keyed by the inbound envelope's person key (notification's HMAC of the
sender's phone, which is also the lookup's source), correlation id the message id. A replayed message is answered
once: the inbox drops a redelivered event, and ``inbound_answers`` (keyed by the message id, which a redelivery by
the gateway keeps) drops a second event for the same message. A source that ran out of budget is told "limited"
once per lock-out, then gets no answer at all (an SMS costs money, and an answer tells the prober it was read);
a phone's ``DAFTAR`` makes at most ``selfcheck_leads_per_source`` leads a day, later ones are not answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.nomination.commands import AskToBeConsidered, LookUp
from services.nomination.domain import keywords, limits, selfcheck
from services.nomination.handlers import selfcheck as lookups
from services.nomination.handlers import selfservice
from services.nomination.repository import selfcheck as repo
from shared.contracts import Envelope, InboundMessageAnswered, InboundMessageReceived, new_envelope
from shared.db import Conn
from shared.regions import default_regions

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps


async def answer_messages(deps: Deps, conn: Conn, events: Sequence[Envelope[Any]]) -> list[Envelope[Any]]:
    out: list[Envelope[Any]] = []
    for event in events:
        message: InboundMessageReceived = event.payload
        if not await repo.claim_answer(conn, message.message_id, event.person_key):
            continue  # answered before
        answer, produced = await _answer(deps, conn, event.person_key, message)
        out.extend(produced)
        if answer is None:
            await repo.answered(conn, message.message_id, "silent")
            continue
        await repo.answered(conn, message.message_id, answer.kind)
        out.append(
            new_envelope(
                answer,
                producer="nomination",
                person_key=event.person_key,
                correlation_id=message.message_id,
                causation_id=event.event_id,
            )
        )
    return out


async def _answer(
    deps: Deps, conn: Conn, source: str, message: InboundMessageReceived
) -> tuple[InboundMessageAnswered | None, Sequence[Envelope[Any]]]:
    settings = deps.settings
    parsed = keywords.parse(message.text, default_regions(), settings.programme_regency)

    def reply(kind: Any, **fields: Any) -> InboundMessageAnswered:
        return InboundMessageAnswered(
            message_id=message.message_id, channel=message.channel, phone=message.phone, kind=kind, **fields
        )

    match parsed:
        case keywords.Cek() | keywords.Sanggah():
            command = LookUp(channel=message.channel, source_hash=source, nik=parsed.nik, birth_date=parsed.birth_date)
            found = (await lookups.look_up(deps, conn, command)).answer
            if found.outcome == "limited":
                return (reply("limited") if found.first_limited else None), ()
            if found.status is None or found.nomination_id is None:
                return reply("no_match"), ()
            if isinstance(parsed, keywords.Cek) or not selfcheck.objectable(found.status):
                return reply("status", status=found.status), ()
            filed, events = await selfservice.file_objection(
                deps,
                conn,
                nomination_id=found.nomination_id,
                channel=message.channel,
                reason_code=parsed.reason_code,
                reason_text=parsed.reason_text,
            )
            if isinstance(filed, selfservice.Filed):
                return reply("objection_received", objection_id=filed.objection_id, due_by=filed.due_by), events
            return reply("status", status=found.status), ()
        case keywords.Daftar():
            day = limits.window_start(await repo.now(conn), 86400)
            if await repo.leads_since(conn, source, day) >= settings.selfcheck_leads_per_source:
                return None, ()  # a phone asks a few times a day at most: more is a flood, not a person
            lead = AskToBeConsidered(
                desa_code=parsed.desa_code,
                full_name=parsed.full_name,
                phone=message.phone,
                occupation=parsed.occupation,
                channel=message.channel,
            )
            handled = await lookups.ask(deps, conn, lead)
            taken, events = handled.answer, handled.events
            if isinstance(taken, selfservice.LeadTaken):
                return reply("lead_received"), events
            return reply("help", help_topic="DAFTAR"), ()
        case keywords.Help(topic=topic):
            return reply("help", help_topic=topic), ()
    raise AssertionError("unreachable")
