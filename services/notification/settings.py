from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from shared.settings import ServiceSettings

BeneficiaryChannel = Literal["local", "sms_http"]
NominatorChannel = Literal["local", "sms_http", "email_smtp"]


class NotificationSettings(ServiceSettings):
    http_port: int = 8004

    # Channels. Unset channel choices pick the best configured one (see domain.ChannelPolicy).
    beneficiary_channel: BeneficiaryChannel | None = Field(
        default=None, description="local | sms_http; default sms_http when the SMS gateway is configured, else local"
    )
    nominator_channel: NominatorChannel | None = Field(
        default=None,
        description="local | sms_http | email_smtp; default email when the nominator has one and SMTP is configured, "
        "else the beneficiary channel with the nominator's phone",
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
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Payung <noreply@payung.invalid>"
    smtp_starttls: bool = True
    smtp_timeout_s: float = Field(default=15.0, gt=0)

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
        # A claim must outlive the round that holds it, or a slow round's messages are claimed and sent twice.
        rounds = math.ceil(self.dispatch_batch_size / self.dispatch_concurrency)
        longest = rounds * max(self.sms_timeout_s, self.smtp_timeout_s)
        if self.sending_lease_s <= longest:
            raise ValueError(f"sending_lease_s must exceed {longest:.0f} s (batch / concurrency x longest timeout)")
        return self

    @property
    def sms_configured(self) -> bool:
        return bool(self.sms_gateway_url and self.sms_gateway_token)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def local_channel_used(self) -> bool:
        """Whether messages may go to the local file (so production never creates it)."""
        return self.resolved_beneficiary_channel == "local" or self.nominator_channel == "local"

    @property
    def resolved_beneficiary_channel(self) -> BeneficiaryChannel:
        if self.beneficiary_channel is not None:
            return self.beneficiary_channel
        return "sms_http" if self.sms_configured else "local"
