"""Webhooks from the providers, read without I/O: signatures, delivery receipts, inbound opt-out keywords.

Providers call ``POST /v1/receipts/{channel}`` with a JSON body signed by a shared secret: the header
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` (the scheme of the WhatsApp Cloud API webhooks;
the SMS gateway is configured to sign the same way). A receipt names the provider's message id and a status; it may
arrive in any order, more than once, and even before our send call returned (see ``repository_receipts``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

from shared.logs import mask_text

ReceiptStatus = Literal["sent", "delivered", "read", "failed"]
SIGNATURE_HEADER = "X-Hub-Signature-256"
# An inbound message whose first word is one of these stops all further messages to its number.
STOP_WORDS = frozenset({"STOP", "BERHENTI", "UNSUBSCRIBE", "UNREG"})

# SMS gateway delivery reports (SMPP-style stats and plain words) -> our receipt statuses.
_SMS_STATUS: dict[str, ReceiptStatus] = {
    "DELIVRD": "delivered", "DELIVERED": "delivered",
    "UNDELIV": "failed", "UNDELIVERED": "failed", "REJECTD": "failed", "REJECTED": "failed", "EXPIRED": "failed",
    "FAILED": "failed", "DELETED": "failed",
    "ACCEPTD": "sent", "ACCEPTED": "sent", "ENROUTE": "sent", "SENT": "sent",
}  # fmt: skip
_WHATSAPP_STATUS: dict[str, ReceiptStatus] = {
    "sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed",
}  # fmt: skip


@dataclass(frozen=True)
class Receipt:
    provider_message_id: str
    status: ReceiptStatus
    cause: str | None = None  # for failed: the provider's code and title, masked


@dataclass(frozen=True)
class Inbound:
    """A message a person sent us (only its sender and whether it is an opt-out matter)."""

    sender: str
    text: str


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``sha256=<hex>`` against the body's HMAC with ``secret``."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header.strip())  # type: ignore[union-attr]


def is_stop(text: str) -> bool:
    words = text.strip().split()
    return bool(words) and words[0].upper().strip(".!") in STOP_WORDS


def parse(channel: str, body: Any) -> tuple[list[Receipt], list[Inbound]]:
    """Receipts and inbound messages of one webhook call; unknown shapes give nothing (and are acknowledged)."""
    if channel == "whatsapp":
        return parse_whatsapp(body)
    return parse_sms(body)


def parse_whatsapp(body: Any) -> tuple[list[Receipt], list[Inbound]]:
    """``{"entry": [{"changes": [{"value": {"statuses": [...], "messages": [...]}}]}]}`` (Cloud API webhooks)."""
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []
    if not isinstance(body, dict):
        return receipts, inbound
    for entry in body.get("entry") or ():
        for change in (entry or {}).get("changes") or ():
            value = (change or {}).get("value") or {}
            for status in value.get("statuses") or ():
                mapped = _WHATSAPP_STATUS.get(str(status.get("status", "")).lower())
                if mapped and status.get("id"):
                    receipts.append(Receipt(str(status["id"])[:200], mapped, _whatsapp_cause(status, mapped)))
            for message in value.get("messages") or ():
                text = ((message or {}).get("text") or {}).get("body") or ""
                if message.get("from"):
                    inbound.append(Inbound(str(message["from"]), str(text)))
    return receipts, inbound


def _whatsapp_cause(status: dict[str, Any], mapped: ReceiptStatus) -> str | None:
    if mapped != "failed":
        return None
    errors = status.get("errors") or [{}]
    code, title = errors[0].get("code", "?"), errors[0].get("title") or errors[0].get("message") or ""
    return f"whatsapp reported failed ({code}{': ' + mask_text(str(title))[:100] if title else ''})"


def parse_sms(body: Any) -> tuple[list[Receipt], list[Inbound]]:
    """A DLR ``{"id" | "message_id", "status", "error"?}``, an inbound ``{"from", "text"}``, or a list of them."""
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            continue
        if item.get("from") and "text" in item:
            inbound.append(Inbound(str(item["from"]), str(item["text"])))
            continue
        pid = item.get("id") or item.get("message_id")
        mapped = _SMS_STATUS.get(str(item.get("status", "")).upper())
        if pid and mapped:
            error = item.get("error") or item.get("err") or str(item.get("status"))
            cause = f"gateway reported {mask_text(str(error))[:100]}" if mapped == "failed" else None
            receipts.append(Receipt(str(pid)[:200], mapped, cause))
    return receipts, inbound


_RANK = {"sent": 0, "delivered": 1, "read": 2}


def status_after(current: str, received: set[str]) -> str:
    """A delivery's status once ``received`` receipt statuses are known, whatever order they came in.

    Only sent deliveries move (pending/sending wait for the send result; failed stays failed). Progress never goes
    back (read > delivered > sent); a provider's ``failed`` counts only while nothing better was reported.
    """
    if current not in _RANK:
        return current
    best = max((_RANK[s] for s in received if s in _RANK), default=0)
    if best > _RANK[current]:
        return next(s for s, r in _RANK.items() if r == best)
    if "failed" in received and current == "sent" and best == 0:
        return "failed"
    return current
