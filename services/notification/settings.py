from __future__ import annotations

import math
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator

from shared import formats
from shared.settings import ServiceSettings

BeneficiaryChannel = Literal["local", "sms_http", "whatsapp"]
NominatorChannel = Literal["local", "sms_http", "email_smtp", "whatsapp"]
CHANNELS = ("local", "sms_http", "email_smtp", "whatsapp")


def _channel_list(value: str | None) -> tuple[str, ...] | None:
    if value is None or not value.strip():
        return None
    order = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [c for c in order if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel(s) {unknown}; known: {', '.join(CHANNELS)}")
    if len(set(order)) != len(order):
        raise ValueError("a channel appears twice in the order")
    return order


class NotificationSettings(ServiceSettings):
    http_port: int = 8004
    # Retention (shared/retention.py): finished deliveries and their attempts, receipts, digests and their items.
    retention_deliveries_days: int = Field(default=365, ge=30, description="Finished deliveries older than this go")
    retention_receipts_days: int = Field(default=90, ge=1, description="Provider receipts older than this go")
    retention_digests_days: int = Field(default=90, ge=1, description="Digests and their taken items older go")
    retention_claim_members_days: int = Field(default=90, ge=1, description="Ended members, this long after the end")

    # Channels. Unset channel choices pick the best configured one (see domain.ChannelPolicy).
    beneficiary_channel: BeneficiaryChannel | None = Field(
        default=None, description="local | sms_http; default sms_http when the SMS gateway is configured, else local"
    )
    nominator_channel: NominatorChannel | None = Field(
        default=None,
        description="local | sms_http | email_smtp; default email when the nominator has one and SMTP is configured, "
        "else the beneficiary channel with the nominator's phone",
    )
    beneficiary_channels: str | None = Field(
        default=None,
        description="Comma-separated channel order with fallback, e.g. 'whatsapp,sms_http'; wins over "
        "beneficiary_channel",
    )
    nominator_channels: str | None = Field(
        default=None, description="Comma-separated channel order for nominators, e.g. 'email_smtp,whatsapp,sms_http'"
    )
    local_outbox_file: Path = Field(
        default_factory=lambda: Path.cwd() / ".stack" / "local" / "messages.jsonl",
        description="Where the local (demo) channel appends one JSON line per message",
    )
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_sender_id: str = Field(default="PAYUNG", min_length=1, max_length=11, description="Pre-registered sender id")
    sms_connect_timeout_s: float = Field(default=3.0, gt=0)
    sms_timeout_s: float = Field(default=10.0, gt=0, description="Whole-request timeout of one gateway call")
    whatsapp_api_url: str = Field(
        default="https://graph.facebook.com/v21.0", description="Base URL of the WhatsApp Business Cloud API"
    )
    whatsapp_phone_number_id: str | None = None
    whatsapp_token: SecretStr | None = None
    whatsapp_language: str = Field(default="id", description="Language code of the approved templates")
    whatsapp_template_prefix: str = Field(
        default="payung_", description="Approved template name = prefix + template + '_v' + version"
    )
    whatsapp_timeout_s: float = Field(default=10.0, gt=0)
    membership_cards: bool = Field(
        default=True,
        description="Send each new member their card (a PDF) where the route carries a file: WhatsApp, e-mail",
    )
    self_check_url: str = Field(
        default="http://127.0.0.1:8001",
        max_length=200,
        description="Public address of nomination's self-check page: the QR code of a member's card opens it",
    )
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Payung <noreply@payung.invalid>"
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(default=15.0, gt=0)

    # Quiet hours: no message on these channels outside the window (local time); queued until the window opens.
    send_window_start: time = time(8, 0)
    send_window_end: time = time(20, 0)
    send_window_tz: str = Field(default="Asia/Makassar", description="WITA, UTC+8")
    quiet_hours_channels: str = Field(
        default="sms_http,whatsapp", description="Comma-separated channels the window applies to (email is exempt)"
    )
    # Provider rate limits (messages per second, token bucket per channel; 0 = unlimited).
    whatsapp_rate_per_s: float = Field(default=20.0, ge=0)
    sms_rate_per_s: float = Field(default=10.0, ge=0)
    email_rate_per_s: float = Field(default=5.0, ge=0)

    # Webhooks (receipts, inbound STOP): HMAC-SHA256 of the raw body with this secret; unset = webhooks refused.
    webhook_secret: SecretStr | None = None

    # Inbound messages (keywords, docs/outreach.md): the sender's Kafka key is HMAC(inbound_key_secret or
    # webhook_secret, phone); at most inbound_limit_per_hour messages of one number are published an hour.
    inbound_key_secret: SecretStr | None = None
    inbound_limit_per_hour: int = Field(default=20, ge=0, description="0: no limit")
    retention_inbound_days: int = Field(default=30, ge=1, description="Inbound message ids older than this go")
    # Who hears of a lead in a desa with no known official: 'regency code=phone or email', comma-separated,
    # e.g. '64.08=+628115550001,64.09=disnaker@ppu.go.id' (the regency's Disnaker).
    disnaker_contacts: str = ""

    # Daily digest per desa for village officials (RT / desa nominators seen for the desa).
    digest_enabled: bool = True
    nominator_messages: Literal["each", "digest"] = Field(
        default="each",
        description="each: a rejection is also told to the nominator at once, one message per person; digest: it "
        "travels only inside the desa's daily digest (the per-person delivery is held and resolved with it)",
    )
    digest_time: time = Field(default=time(16, 0), description="Local time (send_window_tz) the digests are made")
    digest_poll_interval_s: float = Field(default=60.0, gt=0)
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="POST /v1/receipts/{channel}")
    recipient_daily_limit: int = Field(
        default=10,
        ge=0,
        description="Messages per address per local day; beyond it an official's messages fold into the desa's "
        "digest and others wait for the next day (0: no limit)",
    )
    # issue 15 (docs/outreach.md): the quota-shortfall message to programme admins, claim reminders
    programme_admin_contacts: str = Field(
        default="",
        max_length=2000,
        description="Programme admins told of a quota shortfall: e-mail addresses and/or phone numbers, comma "
        "separated (PAYUNG_PROGRAMME_ADMIN_CONTACTS)",
    )
    claim_reminders_enabled: bool = Field(default=True, description="The yearly claim-reminder job")
    claim_reminder_poll_interval_s: float = Field(default=3600.0, gt=0)
    claim_reminder_batch: int = Field(default=500, ge=1, le=10_000, description="Members reminded per round")

    # Dispatcher.
    dispatch_batch_size: int = Field(default=200, ge=1, description="Deliveries claimed per dispatcher round")
    dispatch_concurrency: int = Field(default=20, ge=1, description="Provider calls in flight at once")
    dispatch_poll_interval_s: float = Field(default=1.0, gt=0, description="Fallback when no NOTIFY arrives")
    delivery_max_attempts: int = Field(default=8, ge=1, description="Transient failures before a delivery fails")
    retry_initial_s: float = Field(default=5.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0, description="Cap of one backoff delay (and of a Retry-After)")
    retry_jitter_s: float = Field(default=5.0, ge=0)
    # A delivery stuck in "sending" longer than this (its dispatcher died mid-call) is claimed again.
    sending_lease_s: float = Field(default=300.0, gt=0)

    @field_validator("programme_admin_contacts")
    @classmethod
    def _admin_contacts(cls, value: str) -> str:
        """Every entry an e-mail address or a mobile number; a faulty one is named by its position."""
        for n, raw in enumerate((c.strip() for c in value.split(",") if c.strip()), start=1):
            try:
                formats.email(raw) if "@" in raw else formats.mobile_number(raw)
            except formats.InvalidFormat:
                raise ValueError(f"entry {n} is neither an e-mail address nor a mobile number") from None
        return value

    @field_validator("sms_sender_id")
    @classmethod
    def _sender_id(cls, value: str) -> str:
        # Alphanumeric sender ids are limited to 11 GSM characters by the SMS standard (TP-OA).
        if not value.isascii() or not all(c.isalnum() or c in " .-" for c in value):
            raise ValueError("sms_sender_id must be letters, digits, space, '.' or '-'")
        return value

    @model_validator(mode="after")
    def _configured(self) -> NotificationSettings:
        if self.resolved_beneficiary_channel == "sms_http" and not self.sms_configured:
            raise ValueError("beneficiary_channel=sms_http needs PAYUNG_SMS_GATEWAY_URL and PAYUNG_SMS_GATEWAY_TOKEN")
        if self.nominator_channel == "sms_http" and not self.sms_configured:
            raise ValueError("nominator_channel=sms_http needs PAYUNG_SMS_GATEWAY_URL and PAYUNG_SMS_GATEWAY_TOKEN")
        if self.nominator_channel == "email_smtp" and not self.smtp_configured:
            raise ValueError("nominator_channel=email_smtp needs PAYUNG_SMTP_HOST")
        used = set(self.beneficiary_order) | set(self.nominator_order or ())
        if "whatsapp" in used and not self.whatsapp_configured:
            raise ValueError("the whatsapp channel needs PAYUNG_WHATSAPP_PHONE_NUMBER_ID and PAYUNG_WHATSAPP_TOKEN")
        if "sms_http" in used and not self.sms_configured:
            raise ValueError("the sms_http channel needs PAYUNG_SMS_GATEWAY_URL and PAYUNG_SMS_GATEWAY_TOKEN")
        if "email_smtp" in (self.nominator_order or ()) and not self.smtp_configured:
            raise ValueError("the email_smtp channel needs PAYUNG_SMTP_HOST")
        # A claim must outlive the round that holds it, or a slow round's messages are claimed and sent twice.
        rounds = math.ceil(self.dispatch_batch_size / self.dispatch_concurrency)
        longest = rounds * max(self.sms_timeout_s, self.smtp_timeout_s, self.whatsapp_timeout_s)
        # Waiting for the rate limiter lengthens a round too: a whole batch on the slowest limited channel.
        used = (
            set(self.beneficiary_order)
            | set(self.nominator_order or ())
            | ({"email_smtp"} if self.smtp_configured else set())
        )
        limited = [rate for channel, rate in self.rates.items() if rate > 0 and channel in used]
        longest += self.dispatch_batch_size / min(limited) if limited else 0
        if self.sending_lease_s <= longest:
            raise ValueError(
                f"sending_lease_s must exceed {longest:.0f} s (batch / concurrency x longest timeout + batch / rate)"
            )
        return self

    @field_validator("beneficiary_channels", "nominator_channels", "quiet_hours_channels")
    @classmethod
    def _orders(cls, value: str | None) -> str | None:
        _channel_list(value)
        return value

    @field_validator("send_window_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone
        return value

    @property
    def beneficiary_order(self) -> tuple[str, ...]:
        return _channel_list(self.beneficiary_channels) or (self.resolved_beneficiary_channel,)

    @property
    def nominator_order(self) -> tuple[str, ...] | None:
        order = _channel_list(self.nominator_channels)
        return order or ((self.nominator_channel,) if self.nominator_channel else None)

    @property
    def admin_contacts(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.programme_admin_contacts.split(",") if c.strip())

    @property
    def quiet_channels(self) -> frozenset[str]:
        return frozenset(_channel_list(self.quiet_hours_channels) or ())

    @property
    def disnaker_contact_of(self) -> dict[str, str]:
        pairs = (part.split("=", 1) for part in self.disnaker_contacts.split(",") if "=" in part)
        return {code.strip(): contact.strip() for code, contact in pairs if code.strip() and contact.strip()}

    @property
    def inbound_secret(self) -> str | None:
        secret = self.inbound_key_secret or self.webhook_secret
        return secret.get_secret_value() if secret else None

    @property
    def rates(self) -> dict[str, float]:
        return {
            "whatsapp": self.whatsapp_rate_per_s,
            "sms_http": self.sms_rate_per_s,
            "email_smtp": self.email_rate_per_s,
        }

    @property
    def whatsapp_configured(self) -> bool:
        return bool(self.whatsapp_phone_number_id and self.whatsapp_token)

    @property
    def sms_configured(self) -> bool:
        return bool(self.sms_gateway_url and self.sms_gateway_token)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def local_channel_used(self) -> bool:
        """Whether messages may go to the local file (so production never creates it)."""
        return "local" in self.beneficiary_order or "local" in (self.nominator_order or ())

    @property
    def resolved_beneficiary_channel(self) -> BeneficiaryChannel:
        if self.beneficiary_channel is not None:
            return self.beneficiary_channel
        return "sms_http" if self.sms_configured else "local"
