"""Settings common to every service, read from the environment (prefix ``PAYUNG_``).

Each service subclasses ``ServiceSettings`` with its own fields. Connection strings and secrets have no defaults:
the local stack and compose file set them, so a forgotten variable fails loudly instead of silently using a
development password in production.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
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
    retry_max_attempts: int = Field(default=8, ge=1, description="Transient retries before the batch is nacked")
    shutdown_grace_s: float = Field(default=20.0, ge=0)

    def topic(self, name: str) -> str:
        return self.topic_prefix + name
