"""Settings common to every service, read from the environment (prefix ``PAYUNG_``).

Each service subclasses ``ServiceSettings`` with its own fields. Connection strings and secrets have no defaults:
the local stack and compose file set them, so a forgotten variable fails loudly instead of silently using a
development password in production.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Literal

from faststream.security import BaseSecurity, SASLScram512
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaClientSettings(BaseSettings):
    """How to authenticate to Kafka. The default (PLAINTEXT, no user) is the local stack's; a production cluster
    uses SASL_SSL with SCRAM-SHA-512 and one principal per service (docs/DEPLOYMENT.md)."""

    model_config = SettingsConfigDict(env_prefix="PAYUNG_", extra="ignore")

    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = Field(default="", description="CA bundle for SASL_SSL; empty: the system's")

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.kafka_security_protocol != "SASL_SSL":
            return None
        return ssl.create_default_context(cafile=self.kafka_ssl_cafile or None)

    def kafka_security(self) -> BaseSecurity | None:
        """FastStream's security object for the KafkaBroker (None: plaintext, no authentication)."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        password = self.kafka_password.get_secret_value()
        return SASLScram512(self.kafka_username, password, ssl_context=self._ssl_context())

    def kafka_client_options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments (producer, consumer, admin) for the same settings."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return {}
        return {
            "security_protocol": self.kafka_security_protocol,
            "sasl_mechanism": self.kafka_sasl_mechanism,
            "sasl_plain_username": self.kafka_username,
            "sasl_plain_password": self.kafka_password.get_secret_value(),
            "ssl_context": self._ssl_context(),
        }


class ServiceSettings(KafkaClientSettings):
    model_config = SettingsConfigDict(env_prefix="PAYUNG_", extra="ignore")

    database_url: str = Field(description="postgresql://user:password@host:port/database of this service")
    kafka_bootstrap: str = Field(description="host:port[,host:port] of the Kafka brokers")
    topic_prefix: str = Field(default="", description="Prepended to every topic name (isolates test runs)")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    db_pool_min: int = 2
    db_pool_max: int = 10
    consumer_max_records: int = Field(default=500, ge=1, description="Events per batch and per transaction")
    consumer_batch_timeout_ms: int = Field(default=50, ge=0)
    outbox_batch_size: int = Field(default=1000, ge=1)
    outbox_poll_interval_s: float = Field(default=1.0, gt=0, description="Fallback when no NOTIFY arrives")
    # Retention (shared/retention.py, docs/RELIABILITY.md "Retention"): the daily job and the shared tables' days.
    retention_enabled: bool = Field(default=True, description="Run the retention job in the background, daily")
    retention_interval_s: float = Field(default=86400.0, gt=0, description="Between two background runs")
    retention_batch_rows: int = Field(default=5000, ge=1, le=100_000, description="Rows per DELETE statement")
    retention_pause_s: float = Field(default=0.0, ge=0, description="Pause between two batches of one table")
    retention_inbox_days: int = Field(
        default=180, description="Inbox rows older than this go; at least retention.inbox_minimum_days() (157)"
    )
    retention_parked_outbox_days: int = Field(default=90, ge=1, description="Parked outbox rows older than this go")
    retry_max_attempts: int = Field(default=8, ge=1, description="Transient retries before the batch is nacked")
    consumer_stall_seconds: float = Field(
        default=300.0, gt=0, description="A consumer failing on one batch this long reports not-ready (a stall)"
    )
    relay_stall_seconds: float = Field(
        default=300.0, gt=0, description="A relay with rows pending that published nothing this long is not-ready"
    )
    shutdown_grace_s: float = Field(default=20.0, ge=0)
    # Who may call the HTTP API (shared/auth.py). Nothing configured means nobody: every API route answers 401.
    api_keys: dict[str, dict[str, str | None]] = Field(
        default_factory=dict, description="SHA-256 hex of an API key -> {name, role, area}, JSON (PAYUNG_API_KEYS)"
    )
    api_keys_file: Path | None = Field(default=None, description="A JSON file of the same shape, merged in")
    jwt_public_key_file: Path | None = Field(default=None, description="PEM public key that signs bearer tokens")
    jwt_jwks_file: Path | None = Field(default=None, description="JWKS of the identity provider (keys by kid)")
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    jwt_role_claim: str = "payung_role"
    jwt_area_claim: str = Field(default="payung_area", description="Dotted region code the principal is scoped to")

    # The HTTP edge (shared/http.py, docs/security.md "The HTTP edge").
    http_max_body_bytes: int = Field(default=64 * 1024, ge=1, description="Body limit of a route without its own")
    http_body_timeout_s: float = Field(default=10.0, gt=0, description="Longest wait for the next body chunk: 408")
    http_header_timeout_s: float = Field(default=10.0, gt=0, description="Request line and headers must arrive within")
    http_keep_alive_s: int = Field(default=5, ge=1, description="An idle keep-alive connection closes after")
    http_limit_concurrency: int | None = Field(default=500, ge=1, description="Connections+tasks before 503")
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024, description="Request head limit (h11 parser)")
    http_rate_limit: str = Field(
        default="1200/minute;100/second",
        description="Requests per authenticated principal (the `limits` notation; empty: no limit): 429 beyond",
    )
    http_public_rate_limit: str = Field(
        default="600/minute", description="Requests per client address on the routes without a key (webhooks)"
    )
    http_rate_limit_storage: str = Field(
        default="memory://",
        description="Where the counters live: memory:// (per process) or a shared store (redis://...) of `limits`",
    )

    @field_validator("retention_inbox_days")
    @classmethod
    def _inbox_outlives_redeliveries(cls, days: int) -> int:
        from shared.retention import check_inbox_days  # shared.retention reads settings only as plain objects

        return check_inbox_days(days)

    def topic(self, name: str) -> str:
        return self.topic_prefix + name
