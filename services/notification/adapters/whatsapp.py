"""The WhatsApp Business Cloud API channel: approved template messages to a phone number.

``POST {base_url}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>`` and
``{"messaging_product": "whatsapp", "to": "62812...", "type": "template", "template": {"name", "language": {"code"},
"components": [{"type": "body", "parameters": [{"type": "text", "text": ...}]}]}}``. The answer carries the message
id (``messages[0].id``, a ``wamid``) that later status webhooks refer to.

A message with a file (the member's card) first uploads it, ``POST {base_url}/{phone_number_id}/media`` (multipart:
``messaging_product=whatsapp``, ``type``, ``file``; the answer's ``id`` is the media id), then sends it: as the
approved template's DOCUMENT header (``components: [{"type": "header", "parameters": [{"type": "document",
"document": {"id", "filename"}}]}, {"type": "body", ...}]``) when the message has a template (business-initiated
messages outside the 24-hour window must be templates), else as a message of type ``document`` (``{"document":
{"id", "filename", "caption"}}``). A failed upload is classified like a failed send.

Errors: HTTP 429, 5xx, timeouts and the API's throttling codes are transient; other 4xx are permanent. A recipient
who does not use WhatsApp (error 131026, "message undeliverable") is a permanent failure of this channel only: the
dispatch job moves the delivery on to the next channel (SMS). The Cloud API has no idempotency key; the delivery id
travels as ``biz_opaque_callback_data`` (echoed in status webhooks) and as an ``Idempotency-Key`` header for
gateways in front of it that honour one.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from services.notification.adapters.channel import parse_retry_after
from services.notification.domain.addresses import normalise_phone
from services.notification.domain.dispatch import Accepted, Attachment, Message
from services.notification.errors import InvalidAddress, SendFailed
from shared.logs import mask_text

NOT_ON_WHATSAPP = frozenset({131026, 131030})  # undeliverable (not a WhatsApp user) / not an allowed recipient
THROTTLED = frozenset({4, 80007, 130429, 131048, 131056})  # rate limits: retry later


class WhatsAppChannel:
    name = "whatsapp"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        phone_number_id: str,
        token: str,
        language: str,
        timeout_s: float,
    ) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/{phone_number_id}/messages"
        self._media_url = f"{base_url.rstrip('/')}/{phone_number_id}/media"
        self._token = token
        self._language = language
        self._timeout_s = timeout_s

    async def send(self, message: Message) -> Accepted:
        try:
            to = normalise_phone(message.address)
        except InvalidAddress as exc:
            raise SendFailed(exc.cause, transient=False) from None
        if not message.whatsapp_template and message.attachment is None:
            raise SendFailed("no whatsapp template for this message", transient=False)
        document = None
        if message.attachment is not None:
            document = {"id": await self._upload(message.attachment), "filename": message.attachment.filename}
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
            "biz_opaque_callback_data": str(message.delivery_id),
        }
        if message.whatsapp_template:
            components: list[dict[str, Any]] = []
            if document is not None:
                components.append({"type": "header", "parameters": [{"type": "document", "document": document}]})
            body = [{"type": "text", "text": p} for p in message.parameters]
            components.append({"type": "body", "parameters": body})
            template = {"name": message.whatsapp_template, "language": {"code": self._language}}
            payload |= {"type": "template", "template": {**template, "components": components}}
        else:
            payload |= {"type": "document", "document": {**(document or {}), "caption": message.body[:1024]}}
        response = await self._post(
            self._url,
            json=payload,
            headers={"Authorization": f"Bearer {self._token}", "Idempotency-Key": str(message.delivery_id)},
        )
        if response.is_success:
            message_id = _message_id(response)
            if message_id is None:
                # Accepted, but without an id no receipt can ever be matched: still sent, say so in the record.
                return Accepted(None)
            return Accepted(message_id)
        raise _failure(response)

    async def _upload(self, attachment: Attachment) -> str:
        """The media id of the uploaded file."""
        response = await self._post(
            self._media_url,
            data={"messaging_product": "whatsapp", "type": attachment.media_type},
            files={"file": (attachment.filename, attachment.content, attachment.media_type)},
            headers={"Authorization": f"Bearer {self._token}"},
        )
        if not response.is_success:
            raise _failure(response)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            media_id = response.json()["id"]
            if isinstance(media_id, str | int) and str(media_id):
                return str(media_id)[:200]
        raise SendFailed("whatsapp media upload answered without an id", transient=True)

    async def _post(self, url: str, **kwargs: Any) -> httpx.Response:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._client.post(url, **kwargs)
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise SendFailed(f"whatsapp timeout ({type(exc).__name__})", transient=True) from None
        except httpx.TransportError as exc:
            raise SendFailed(f"whatsapp unreachable ({type(exc).__name__})", transient=True) from None


def _message_id(response: httpx.Response) -> str | None:
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        return str(response.json()["messages"][0]["id"])[:200]
    return None


def _failure(response: httpx.Response) -> SendFailed:
    status = response.status_code
    code, title = _error(response)
    cause = f"whatsapp answered {status}" + (f" ({code}: {title})" if code is not None else "")
    if code in NOT_ON_WHATSAPP:
        return SendFailed(f"not a whatsapp user ({code})", transient=False)
    if status == 429 or code in THROTTLED:
        return SendFailed(cause, transient=True, retry_after_s=parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500 or status == 408:
        return SendFailed(cause, transient=True)
    return SendFailed(cause, transient=False)


def _error(response: httpx.Response) -> tuple[int | None, str]:
    """The Graph API error ``{"error": {"code", "message", "error_data": {"details"}}}``: code and masked title."""
    with contextlib.suppress(ValueError):
        body: Any = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and error.get("code") is not None:
            with contextlib.suppress(TypeError, ValueError):
                return int(error["code"]), mask_text(str(error.get("message") or ""))[:120]
    return None, ""
