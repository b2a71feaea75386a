"""Email through an SMTP server (``email_smtp``): nominators who gave an address."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import aiosmtplib

from services.notification.domain.addresses import normalise_email
from services.notification.domain.dispatch import Accepted, Message
from services.notification.errors import InvalidAddress, SendFailed
from services.notification.settings import NotificationSettings


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
        if message.attachment is not None:  # the member's card
            maintype, _, subtype = message.attachment.media_type.partition("/")
            mail.add_attachment(
                message.attachment.content, maintype=maintype, subtype=subtype, filename=message.attachment.filename
            )
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
