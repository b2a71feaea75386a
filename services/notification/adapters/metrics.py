"""The notification service's own metrics (Prometheus; shared/metrics.py exposes them). No phone number, no
person key, no desa of a person in a label: only channels and causes."""

from __future__ import annotations

from prometheus_client import Counter

INBOUND = Counter(
    "payung_inbound_messages_total",
    "Inbound messages (keywords) by outcome: published, limited (over the per-number limit), replayed, unreadable",
    ["channel", "outcome"],
)
LEADS_WITHOUT_OFFICIAL = Counter(
    "payung_leads_without_official_total",
    "Leads of a desa with no known official: told to the regency's Disnaker contact (to) or to nobody (none)",
    ["to"],
)
