"""The member's card attached to a ``membership_card`` message: rendered at send time from what the delivery stored
(shared.cards), its QR code holding the self-check link signed by "notification"."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from services.notification.domain.dispatch import Attachment
from shared.cards.links import card_token, card_url
from shared.cards.render import Card, card_pdf

PRINTER = "notification"
FILENAME = "kartu-peserta-bpjs-ketenagakerjaan.pdf"


def attachment(card: Mapping[str, Any], self_check_url: str) -> Attachment:
    """The card as a PDF attachment; KeyError / ValueError / TypeError when the stored card is incomplete."""
    nomination_id = uuid.UUID(str(card["nomination_id"]))
    rendered = Card(
        full_name=str(card["full_name"]),
        membership_number=str(card["membership_number"]),
        funding_source_name=str(card["funding_source_name"]),
        coverage_start=date.fromisoformat(str(card["coverage_start"])),
        desa_name=str(card["desa_name"]),
        nomination_id=nomination_id,
        qr_url=card_url(self_check_url, card_token(PRINTER, nomination_id)),
    )
    return Attachment(FILENAME, "application/pdf", card_pdf(rendered))
