"""A generic SMS HTTP gateway: ``POST {to, from, text, reference}`` with a bearer token."""

from __future__ import annotations

import asyncio

import httpx

from services.notification.adapters.channel import error_detail, parse_retry_after, provider_id
from services.notification.domain.addresses import normalise_phone
from services.notification.domain.dispatch import Accepted, Message
from services.notification.errors import InvalidAddress, SendFailed


class SmsHttpChannel:
    """The SMS gateway channel (``sms_http``)."""

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
            return Accepted(provider_id(response))
        cause = f"gateway answered {status}{error_detail(response)}"
        if status == 429:
            raise SendFailed(
                cause, transient=True, retry_after_s=parse_retry_after(response.headers.get("Retry-After"))
            )
        if status >= 500 or status == 408:
            raise SendFailed(cause, transient=True)
        raise SendFailed(cause, transient=False)
