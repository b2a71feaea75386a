"""The words of inbound replies, objection and lead messages: template versions, subjects, WhatsApp parameters
and preview samples, merged into ``texts`` / ``messages`` / ``handlers.preview`` (kept here so the outreach
templates live in one place)."""

from __future__ import annotations

from datetime import date
from typing import Any

REPLY = "inbound_reply"  # the purpose of an answer to an inbound message: emits no event (no nomination)
LEAD = "lead_notice"  # the purpose of a lead told to a desa's officials: emits no event
OMBUDSMAN = "137"  # Ombudsman RI's call centre: where to complain further about a dismissed objection

# InboundMessageAnswered.kind -> the template of the reply.
ANSWER_TEMPLATES: dict[str, str] = {
    "status": "selfcheck_status",
    "no_match": "selfcheck_no_match",
    "limited": "selfcheck_limited",
    "objection_received": "objection_received",
    "lead_received": "lead_received",
    "help": "keyword_help",
}
TEMPLATE_VERSIONS: dict[str, int] = {
    "selfcheck_status": 1,
    "selfcheck_no_match": 1,
    "selfcheck_limited": 1,
    "lead_received": 1,
    "keyword_help": 1,
    "objection_received": 1,
    "objection_decided": 1,
    "lead_notice": 1,
}
SUBJECTS: dict[str, str] = {
    REPLY: "Jawaban layanan BPJS Ketenagakerjaan pekerja rentan",
    LEAD: "Calon peserta BPJS Ketenagakerjaan minta didata",
    "objection_received": "Sanggahan BPJS Ketenagakerjaan diterima",
    "objection_decided": "Keputusan sanggahan BPJS Ketenagakerjaan",
}
# WhatsApp: a reply is free text inside the 24-hour window the person's own message opened, sent as the approved
# template ``<prefix>inbound_reply_v1`` whose single body parameter is the whole text; the others are ordinary.
REPLY_WHATSAPP_TEMPLATE = "inbound_reply"
WHATSAPP_PARAMETERS: dict[str, tuple[str, ...]] = {
    "selfcheck_status": (),
    "selfcheck_no_match": (),
    "selfcheck_limited": (),
    "lead_received": (),
    "keyword_help": (),
    "objection_received": ("reference", "due_by", "full_name"),
    "objection_decided": ("reference", "outcome_text", "note", "full_name"),
    "lead_notice": ("full_name", "phone", "occupation", "village"),
}
OBJECTION_STATES_ID: dict[str, str] = {
    "received": "diterima",
    "in_review": "sedang diperiksa",
    "upheld": "diterima (dikabulkan)",
    "dismissed": "ditolak",
}
SAMPLE: dict[str, Any] = {
    "state": "covered",
    "waitlist_position": 137,
    "covered_since": date(2026, 9, 30),
    "covered_until": None,
    "more_reasons": 0,
    "objection_ref": None,
    "objection_state": None,
    "objection_due_by": None,
    "help_topic": None,
    "due_by": date(2026, 10, 14),
    "nomination_ref": "1A2B3C4D",
    "outcome": "upheld",
    "outcome_text": "diterima",
    "ground": "rejected",
    "note": "KK sudah diperbaiki Dukcapil",
    "ombudsman": OMBUDSMAN,
    "phone": "+6281234567890",
    "occupation": "Nelayan",
}
