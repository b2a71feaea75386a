"""The channel registry: the configured channels by name, opened and closed with the service."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from services.notification.adapters.channel import Channel
from services.notification.adapters.local import LocalChannel
from services.notification.adapters.sms import SmsHttpChannel
from services.notification.adapters.smtp import EmailSmtpChannel
from services.notification.adapters.whatsapp import WhatsAppChannel
from services.notification.settings import NotificationSettings


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
