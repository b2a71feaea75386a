"""The notification service's errors: one base, ``NotificationError``, under the project's ``PayungError``."""

from __future__ import annotations

from shared.errors import PayungError


class NotificationError(PayungError):
    """Base of every error the notification service raises on purpose."""


class InvalidAddress(NotificationError, ValueError):
    """An address no channel can use; the message is the cause reported in ``NotificationFailed``."""

    def __init__(self, cause: str, channel: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.channel = channel  # the channel that would have carried the message, if any


class SendFailed(NotificationError):
    """The provider did not take the message. ``transient``: the same message may go through later.

    The cause is stored and shown to operators: it never holds the address or the message text.
    """

    def __init__(self, cause: str, *, transient: bool, retry_after_s: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.transient = transient
        self.retry_after_s = retry_after_s


class MalformedWebhook(NotificationError, ValueError):
    """A signed body whose fields have the wrong types or hold control characters (answered 422)."""


class Refused(NotificationError):
    """A request the service refuses; ``status`` is the HTTP answer the route gives, the message its detail."""

    status = 409


class DeliveryNotFound(Refused):
    status = 404

    def __init__(self) -> None:
        super().__init__("no such delivery")
