"""Webhooks from the providers, read without I/O: signatures, delivery receipts, inbound opt-out keywords.

Providers call ``POST /v1/receipts/{channel}`` with a JSON body signed by a shared secret: the header
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`` (the scheme of the WhatsApp Cloud API webhooks;
the SMS gateway is configured to sign the same way). A receipt names the provider's message id and a status; it may
arrive in any order, more than once, and even before our send call returned (see ``repository.receipts``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

from services.notification.errors import MalformedWebhook
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
    """A message a person sent us: its sender, text and the gateway's id of it (``None``: the gateway gave none)."""

    sender: str
    text: str
    gateway_id: str | None = None


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``sha256=<hex>`` against the body's HMAC with ``secret``. Compared as bytes: a header
    with characters outside ASCII is simply wrong, not an error (``compare_digest`` refuses non-ASCII str)."""
    if not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode("utf-8", "surrogateescape"))


def is_stop(text: str) -> bool:
    words = text.strip().split()
    return bool(words) and words[0].upper().strip(".!") in STOP_WORDS


def parse(channel: str, body: Any) -> tuple[list[Receipt], list[Inbound]]:
    """Receipts and inbound messages of one webhook call. A body of an unknown shape gives nothing (and is
    acknowledged); known fields of the wrong type, or text with control characters, raise ``MalformedWebhook``."""
    if channel == "whatsapp":
        return parse_whatsapp(body)
    return parse_sms(body)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedWebhook(f"{where} must be a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{where} must be an object")
    return value


def _text(value: Any, where: str, max_length: int = 4096) -> str:
    """A scalar as text: strings and numbers only, no control characters (PostgreSQL refuses NUL)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedWebhook(f"{where} must be a string")
    text = str(value)
    if len(text) > max_length:
        raise MalformedWebhook(f"{where} is too long")
    if any((ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F for c in text):
        raise MalformedWebhook(f"{where} holds control characters")
    return text


def parse_whatsapp(body: Any) -> tuple[list[Receipt], list[Inbound]]:
    """``{"entry": [{"changes": [{"value": {"statuses": [...], "messages": [...]}}]}]}`` (Cloud API webhooks)."""
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []
    if not isinstance(body, dict):
        return receipts, inbound
    for entry in _list(body.get("entry"), "entry"):
        for change in _list(_object(entry, "entry[]").get("changes"), "changes"):
            value = _object(_object(change, "changes[]").get("value"), "value")
            for status in _list(value.get("statuses"), "statuses"):
                status = _object(status, "statuses[]")
                mapped = _WHATSAPP_STATUS.get(_text(status.get("status", ""), "status").lower())
                if mapped and status.get("id"):
                    pid = _text(status["id"], "statuses[].id", 200)
                    receipts.append(Receipt(pid, mapped, _whatsapp_cause(status, mapped)))
            for message in _list(value.get("messages"), "messages"):
                message = _object(message, "messages[]")
                text = _text(_object(message.get("text"), "text").get("body") or "", "text.body")
                if message.get("from"):
                    gateway_id = _text(message["id"], "messages[].id", 200) if message.get("id") else None
                    inbound.append(Inbound(_text(message["from"], "from", 64), text, gateway_id))
    return receipts, inbound


def _whatsapp_cause(status: dict[str, Any], mapped: ReceiptStatus) -> str | None:
    if mapped != "failed":
        return None
    errors = _list(status.get("errors"), "errors") or [{}]
    first = _object(errors[0], "errors[]")
    code = _text(first.get("code", "?"), "errors[].code", 32)
    title = _text(first.get("title") or first.get("message") or "", "errors[].title")
    return f"whatsapp reported failed ({code}{': ' + mask_text(title)[:100] if title else ''})"


def parse_sms(body: Any) -> tuple[list[Receipt], list[Inbound]]:
    """A DLR ``{"id" | "message_id", "status", "error"?}``, an inbound ``{"from", "text", "id"?}``, or a list."""
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []
    for item in body if isinstance(body, list) else [body]:
        if not isinstance(item, dict):
            continue
        if item.get("from") and "text" in item:
            pid = item.get("id") or item.get("message_id")
            gateway_id = _text(pid, "id", 200) if pid else None
            inbound.append(Inbound(_text(item["from"], "from", 64), _text(item["text"] or "", "text"), gateway_id))
            continue
        pid = item.get("id") or item.get("message_id")
        mapped = _SMS_STATUS.get(_text(item.get("status", ""), "status", 64).upper())
        if pid and mapped:
            error = _text(item.get("error") or item.get("err") or item.get("status"), "error")
            cause = f"gateway reported {mask_text(error)[:100]}" if mapped == "failed" else None
            receipts.append(Receipt(_text(pid, "id", 200), mapped, cause))
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
