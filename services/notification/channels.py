"""Channels: where the notification service talks to the outside (SMS gateway, SMTP server, the local demo file).

Every channel has the same small interface: ``send(message)`` returns ``Accepted`` once the provider took the
message, or raises ``SendFailed`` saying whether trying again later can help (``transient``) and, for rate limits,
when (``retry_after_s``). The delivery id travels with every message as the provider's idempotency key or
reference, so a provider that deduplicates can drop the resend that follows a crash between its accept and our
commit.

Causes in ``SendFailed`` are stored and shown to operators: they never contain the address or the message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx
import orjson

from services.notification.domain import InvalidAddress, normalise_email, normalise_phone
from services.notification.settings import NotificationSettings
from shared.logs import mask_text


@dataclass(frozen=True)
class Message:
    delivery_id: uuid.UUID
    address: str
    subject: str
    body: str
    # WhatsApp sends an approved template by name with its body parameters instead of free text.
    whatsapp_template: str | None = None
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str | None = None


class SendFailed(Exception):
    """The provider did not take the message. ``transient``: the same message may go through later."""

    def __init__(self, cause: str, *, transient: bool, retry_after_s: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.transient = transient
        self.retry_after_s = retry_after_s


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> Accepted: ...


class SmsHttpChannel:
    """A generic SMS HTTP gateway: ``POST {to, from, text, reference}`` with a bearer token."""

    name = "sms_http"

    def __init__(self, client: httpx.AsyncClient, url: str, token: str, sender_id: str, timeout_s: float) -> None:
        self._client = client
        self._url = url
        self._token = token
        self._sender_id = sender_id
        self._timeout_s = timeout_s

    async def send(self, message: Message) -> Accepted:
        try:
            to = normalise_phone(message.address)
        except InvalidAddress as exc:
            raise SendFailed(exc.cause, transient=False) from None
        reference = str(message.delivery_id)
        try:
            # httpx's timeouts bound each phase; this bounds the whole call (a gateway trickling bytes included).
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(
                    self._url,
                    json={"to": to, "from": self._sender_id, "text": message.body, "reference": reference},
                    headers={"Authorization": f"Bearer {self._token}", "Idempotency-Key": reference},
                )
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise SendFailed(f"gateway timeout ({type(exc).__name__})", transient=True) from None
        except httpx.TransportError as exc:
            raise SendFailed(f"gateway unreachable ({type(exc).__name__})", transient=True) from None
        status = response.status_code
        if response.is_success:
            return Accepted(_provider_id(response))
        cause = f"gateway answered {status}{_error_detail(response)}"
        if status == 429:
            raise SendFailed(
                cause, transient=True, retry_after_s=parse_retry_after(response.headers.get("Retry-After"))
            )
        if status >= 500 or status == 408:
            raise SendFailed(cause, transient=True)
        raise SendFailed(cause, transient=False)


def _provider_id(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            for key in ("id", "message_id", "messageId"):
                if body.get(key) is not None:
                    return str(body[key])[:200]
    return None


def _error_detail(response: httpx.Response) -> str:
    """A short error code or text from the gateway's answer, masked: gateways like to echo the number back."""
    text = ""
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            text = str(body.get("error") or body.get("message") or body.get("code") or "")
    return f": {mask_text(text)[:120]}" if text else ""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


class EmailSmtpChannel:
    """Email through an SMTP server (one connection per message: nominators' mail is low volume)."""

    name = "email_smtp"

    def __init__(self, settings: NotificationSettings) -> None:
        assert settings.smtp_host is not None
        self._settings = settings

    async def send(self, message: Message) -> Accepted:
        s = self._settings
        try:
            to = normalise_email(message.address)
        except InvalidAddress as exc:
            raise SendFailed(exc.cause, transient=False) from None
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = to
        mail["Subject"] = message.subject
        # Our delivery id as Message-ID: the reference a resend after a crash can be recognised by.
        mail["Message-ID"] = f"<{message.delivery_id}@payung>"
        mail["X-Payung-Delivery-Id"] = str(message.delivery_id)
        mail.set_content(message.body)
        try:
            # aiosmtplib's timeout bounds each command; this bounds the whole conversation.
            async with asyncio.timeout(s.smtp_timeout_s):
                await aiosmtplib.send(
                    mail,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_user,
                    password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                    start_tls=s.smtp_starttls,
                    timeout=s.smtp_timeout_s,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise SendFailed(
                f"recipient refused ({codes[0] if codes else '?'})", transient=all(400 <= c < 500 for c in codes)
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Our configuration, not this message, is wrong: keep retrying while an operator fixes it.
            raise SendFailed(f"smtp authentication failed ({exc.code})", transient=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailed(f"smtp answered {exc.code}", transient=exc.code < 500) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"smtp unavailable ({type(exc).__name__})", transient=True) from None
        return Accepted(f"<{message.delivery_id}@payung>")


class LocalChannel:
    """The demo channel: appends one JSON line per message to a file (``.stack/local/messages.jsonl``).

    The file holds addresses and texts: it is the stand-in for a phone, kept on the developer's machine.
    Each line is one ``write`` on a file opened with O_APPEND, so lines from several processes never interleave.
    """

    name = "local"

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def send(self, message: Message) -> Accepted:
        line = orjson.dumps(
            {
                "delivery_id": str(message.delivery_id),
                "at": datetime.now(UTC).isoformat(),
                "to": message.address,
                "subject": message.subject,
                "text": message.body,
            }
        )
        try:
            os.write(self._fd, line + b"\n")
        except OSError as exc:
            raise SendFailed(f"local outbox not writable ({type(exc).__name__})", transient=True) from None
        return Accepted(str(message.delivery_id))


@contextlib.asynccontextmanager
async def open_channels(settings: NotificationSettings) -> AsyncIterator[dict[str, Channel]]:
    """The configured channels by name; their clients and files are closed on exit."""
    channels: dict[str, Channel] = {}
    async with contextlib.AsyncExitStack() as stack:
        if settings.local_channel_used:
            path = Path(settings.local_outbox_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            stack.callback(os.close, fd)
            channels["local"] = LocalChannel(fd)
        if settings.sms_configured:
            assert settings.sms_gateway_url is not None and settings.sms_gateway_token is not None
            timeout = httpx.Timeout(settings.sms_timeout_s, connect=settings.sms_connect_timeout_s)
            limits = httpx.Limits(max_connections=settings.dispatch_concurrency)
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=timeout, limits=limits))
            channels["sms_http"] = SmsHttpChannel(
                client,
                settings.sms_gateway_url,
                settings.sms_gateway_token.get_secret_value(),
                settings.sms_sender_id,
                timeout_s=settings.sms_timeout_s,
            )
        if settings.smtp_configured:
            channels["email_smtp"] = EmailSmtpChannel(settings)
        if settings.whatsapp_configured:
            from services.notification.whatsapp import WhatsAppChannel

            assert settings.whatsapp_phone_number_id is not None and settings.whatsapp_token is not None
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    timeout=httpx.Timeout(settings.whatsapp_timeout_s, connect=settings.sms_connect_timeout_s)
                )
            )
            channels["whatsapp"] = WhatsAppChannel(
                client,
                settings.whatsapp_api_url,
                settings.whatsapp_phone_number_id,
                settings.whatsapp_token.get_secret_value(),
                settings.whatsapp_language,
                timeout_s=settings.whatsapp_timeout_s,
            )
        yield channels
