"""Dispatch rules: what a channel is handed and answers, and what each answer does to a delivery.

A round claims due deliveries, asks each channel to send (``Message``), and sorts the answers (``sort``): sent,
retried later with backoff, moved to the next channel or failed, deferred (quiet hours, the recipient's daily
limit: not an attempt). The I/O around it is ``handlers.dispatch``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.notification.domain.deliveries import Delivery
from services.notification.domain.schedule import SendWindow
from services.notification.errors import SendFailed

OPTED_OUT = "opted_out"
DOCUMENT_CHANNELS = frozenset({"whatsapp", "email_smtp"})  # channels that carry a file (the membership card)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (the member's card): a document on WhatsApp, an attachment by e-mail."""

    filename: str
    media_type: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    delivery_id: uuid.UUID
    address: str
    subject: str
    body: str
    # WhatsApp sends an approved template by name with its body parameters instead of free text.
    whatsapp_template: str | None = None
    parameters: tuple[str, ...] = ()
    attachment: Attachment | None = None  # only channels in DOCUMENT_CHANNELS carry one


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str | None = None


@dataclass(frozen=True)
class Deferred:
    """Not sent now (quiet hours, the recipient's daily limit): due again at ``until``; the claim does not count
    as an attempt."""

    until: datetime
    reason: str = "quiet hours"


Outcome = Accepted | SendFailed | Deferred


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    initial_s: float = 5.0
    max_s: float = 3600.0
    jitter_s: float = 5.0


@dataclass(frozen=True)
class DispatchPolicy:
    """How the dispatch job claims and sends (from ``NotificationSettings``; the defaults send at once, always)."""

    batch_size: int = 200
    lease_s: float = 300.0
    shutdown_grace_s: float = 20.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    window: SendWindow = field(default_factory=SendWindow)
    quiet_channels: frozenset[str] = frozenset()  # the service passes its settings' (SMS and WhatsApp by default)
    recipient_daily_limit: int = 0  # messages per address per local day (domain.limits); 0: no limit
    digests: bool = False  # whether messages over that limit can fold into the desa's digest


def retry_delay(
    attempts: int, policy: RetryPolicy, random_fraction: float, retry_after_s: float | None = None
) -> float | None:
    """Seconds until the next try after ``attempts`` transient failures, or None when the delivery should fail.

    Exponential backoff with jitter (``initial * 2^(n-1)`` capped at ``max``, plus up to ``jitter``); a provider's
    Retry-After wins when it is given, capped at ``max`` too so a bad header cannot park a message for days.
    """
    if attempts >= policy.max_attempts:
        return None
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), policy.max_s)
    backoff = min(policy.initial_s * 2.0 ** max(attempts - 1, 0), policy.max_s)
    return backoff + policy.jitter_s * random_fraction


@dataclass
class Sorted:
    """A round's answers as the repository records them, each keyed by (delivery id, attempt)."""

    sent: list[tuple[uuid.UUID, int, str | None]] = field(default_factory=list)
    permanent: list[tuple[uuid.UUID, int, str]] = field(default_factory=list)
    retries: list[tuple[uuid.UUID, int, float, str]] = field(default_factory=list)
    deferred: list[tuple[uuid.UUID, int, datetime]] = field(default_factory=list)
    history: list[tuple[uuid.UUID, str | None, int, str, str | None]] = field(default_factory=list)
    receipt_keys: list[tuple[str, str]] = field(default_factory=list)  # receipts may already wait for these


def sort(
    outcomes: Sequence[tuple[Delivery, Outcome]], retry: RetryPolicy, random_fraction: Callable[[], float]
) -> Sorted:
    out = Sorted()
    for delivery, result in outcomes:
        key = (delivery.id, delivery.attempts)
        if isinstance(result, Deferred):
            out.deferred.append((*key, result.until))
            out.history.append((delivery.id, delivery.channel, delivery.attempts, "deferred", result.reason))
            continue
        if isinstance(result, Accepted):
            out.sent.append((*key, result.provider_message_id))
            out.history.append((delivery.id, delivery.channel, delivery.attempts, "sent", None))
            if result.provider_message_id and delivery.channel:
                out.receipt_keys.append((delivery.channel, result.provider_message_id))
            continue
        delay = None
        if result.transient:
            delay = retry_delay(delivery.attempts, retry, random_fraction(), result.retry_after_s)
        if delay is not None:
            out.retries.append((*key, delay, result.cause))
            out.history.append((delivery.id, delivery.channel, delivery.attempts, "retry", result.cause))
        elif result.transient:
            out.permanent.append((*key, f"{result.cause} (gave up after {delivery.attempts} attempts)"))
        else:
            out.permanent.append((*key, result.cause))
    return out
