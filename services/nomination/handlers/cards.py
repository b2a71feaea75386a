"""Membership cards of a desa, for its village handover: the covered members' cards, signed by "nomination" (the
QR code opens the self-check page), and the counts the portal lists. Each batch is audited with the caller, the
desa and the count, never a name; a desa outside the caller's area is refused and the attempt audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from services.nomination.commands import CountCoveredMembers, PrintDesaCards
from services.nomination.handlers import access
from services.nomination.repository import cards as repo
from shared import audit
from shared.cards.links import card_token, card_url
from shared.cards.model import Card
from shared.db import Conn
from shared.messaging import Handled
from shared.regions import default_regions

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps

PRINTER = "nomination"


@dataclass(frozen=True)
class DesaCards:
    desa_code: str
    desa_name: str
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class NoMembers:
    """The desa has no covered member (yet): there is nothing to print."""


def desa_name(desa_code: str) -> str:
    region = default_regions().get(desa_code)
    return region.name if region else desa_code


async def desa_cards(deps: Deps, conn: Conn, cmd: PrintDesaCards) -> Handled[DesaCards | access.OutOfArea | NoMembers]:
    denial = {"reason": "out_of_area", "desa_code": cmd.desa_code}
    if not await access.allowed(
        conn, cmd.caller, cmd.desa_code, denied="cards.batch_denied", subject=None, detail=denial
    ):
        return Handled(access.OutOfArea())
    rows = await repo.covered_in_desa(conn, cmd.desa_code)
    if not rows:
        return Handled(NoMembers())
    name = desa_name(cmd.desa_code)
    base = deps.settings.self_check_url
    cards = tuple(
        Card(
            full_name=r["full_name"],
            membership_number=r["membership_number"],
            funding_source_name=r["funding_source_name"] or r["funding_source"] or "-",
            coverage_start=date.fromisoformat(r["coverage_start"]),
            desa_name=name,
            nomination_id=r["id"],
            qr_url=card_url(base, card_token(PRINTER, r["id"])),
        )
        for r in rows
    )
    await audit.record(conn, cmd.caller, "cards.batch_printed", cmd.desa_code, {"count": len(cards)})
    return Handled(DesaCards(cmd.desa_code, name, cards))


async def covered_counts(deps: Deps, conn: Conn, cmd: CountCoveredMembers) -> Handled[dict[str, int]]:
    """Covered members per desa of the caller's area (counts only: nothing personal is read)."""
    return Handled(await repo.covered_counts(conn, cmd.caller.area))
