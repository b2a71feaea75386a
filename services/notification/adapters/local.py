"""The local demo channel: one JSON line per message in a file on the developer's machine."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import orjson

from services.notification.domain.dispatch import Accepted, Message
from services.notification.errors import SendFailed


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
