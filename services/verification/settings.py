from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from shared.formats import OCCUPATION_CODES
from shared.regions import DEFAULT_FILE, DEFAULT_VERSION
from shared.settings import ServiceSettings


class VerificationSettings(ServiceSettings):
    http_port: int = 8002
    programme_regency: str = Field(default="64.08", description="The programme's regency (the workspace's kecamatan)")
    nomination_public_url: str = Field(
        default="http://127.0.0.1:8001",
        description="How reviewers' browsers reach the nomination service (the letter is shown from there)",
    )
    name_match_threshold: float = Field(
        default=80.0, ge=0, le=100, description="Lowest name score (0 to 100) that counts as the registry's name"
    )
    min_age: int = Field(default=18, ge=0, description="Youngest age, in completed years, the programme covers")
    max_age: int = Field(default=65, ge=0, description="Oldest age, in completed years, the programme covers")
    region_data_file: Path = Field(default=DEFAULT_FILE, description="Official region list (CSV) for NIK checks")
    region_data_version: str = DEFAULT_VERSION
    informal_occupations: list[str] = Field(
        default=sorted(OCCUPATION_CODES), description="Occupation codes the programme counts as informal work"
    )
    letter_required_for: list[str] = Field(
        default=["rt", "desa"], description="Nominator types whose nominations need a supporting letter"
    )
    duplicate_name_threshold: float = Field(
        default=90.0, ge=0, le=100, description="Name score from which another NIK may be the same person (review)"
    )

    # civil registry: "snapshot" (the table loaded by load-registry), "http" (a Dukcapil-style web service) or
    # "dci" (the DCI registry core API, registry_dci.py; the guards below apply to it too)
    registry_adapter: Literal["snapshot", "http", "dci"] = "snapshot"
    registry_url: str = Field(default="", description="Base URL of the registry web service (adapter http)")
    registry_user: str = ""
    registry_password: SecretStr = SecretStr("")
    registry_ip: str = Field(default="", description="ip_user sent with each request (agreed with Disdukcapil)")
    registry_timeout_s: float = Field(default=10.0, gt=0)
    registry_rate_per_s: float = Field(default=5.0, gt=0, description="Agreed request rate (token bucket)")
    registry_burst: int = Field(default=5, ge=1)
    registry_concurrency: int = Field(default=4, ge=1)
    registry_attempts: int = Field(default=3, ge=1, description="Attempts per NIK (timeouts, 5xx, 429)")
    registry_backoff_s: float = Field(default=0.5, ge=0)
    registry_breaker_failures: int = Field(default=5, ge=1, description="Consecutive failures that open the circuit")
    registry_breaker_reset_s: float = Field(default=60.0, gt=0)
    registry_cache_ttl_s: float = Field(default=7 * 24 * 3600.0, ge=0)
    # DCI (registry_adapter dci): spdci registry core API v1.0.0, signed with Ed25519 (shared/dci.py)
    dci_url: str = Field(default="", description="Base URL of the DCI civil registry (…/registry/search is appended)")
    dci_mode: Literal["async", "sync"] = Field(default="async", description="search + on-search callback, or sync")
    dci_sender_id: str = Field(default="payung.kutaitimurkab.go.id", description="Our sender_id at the registry")
    dci_receiver_id: str = Field(default="", description="The registry's id (header receiver_id)")
    dci_callback_base: str = Field(
        default="", description="Our public base URL of the callbacks, e.g. https://host/dci/registry (async mode)"
    )
    dci_signing_key: SecretStr = Field(default=SecretStr(""), description="Ed25519 seed, base64 (signs our messages)")
    dci_signing_key_id: str = "1"
    dci_registry_keys: dict[str, str] = Field(
        default_factory=dict, description='Registry public keys, base64: {"<sender_id>|<key id>|ed25519": "..."}'
    )
    dci_signature_skew_s: int = Field(default=60, ge=0, description="Clock skew tolerated on signature windows")
    # Retention (shared/retention.py). A DCI message id must outlive any signature window the registry uses.
    retention_dci_messages_days: int = Field(default=90, ge=7, description="Accepted DCI message ids kept this long")
    retention_dci_searches_days: int = Field(default=30, ge=1, description="DCI searches asked longer ago go")
    retention_registry_cache_days: int = Field(default=7, ge=0, description="Cached answers go this long after expiry")
    retention_objection_evidence_days: int = Field(
        default=365, ge=30, description="Evidence of decided objections (sanggahan) kept this long after filing"
    )
    dci_purpose_code: str = "social-protection.enrolment"
    dci_purpose_text: str = "Verifikasi peserta program BPJS Ketenagakerjaan pekerja rentan"
    dci_subscribe_deaths: bool = Field(default=True, description="Subscribe to death events at startup")
    dci_subscribe_region: str = Field(default="64", description="Province code whose deaths are subscribed to")
    dci_callback_wait_s: float = Field(default=600.0, gt=0, description="An unanswered search is asked again after")
    dci_batch_size: int = Field(default=100, ge=1, le=1000, description="NIKs per search request")
    # nominations waiting for an unavailable registry
    pending_poll_s: float = Field(default=15.0, gt=0, description="How often due pending look-ups are retried")
    pending_retry_base_s: float = Field(default=30.0, gt=0, description="First delay; doubles per attempt")
    pending_retry_max_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_age > self.max_age:
            raise ValueError("min_age must not exceed max_age")
        if self.registry_adapter == "http" and not (self.registry_url and self.registry_user):
            raise ValueError("registry_adapter http needs registry_url and registry_user")
        if self.registry_adapter == "dci":
            if not (self.dci_url and self.dci_signing_key.get_secret_value() and self.dci_registry_keys):
                raise ValueError("registry_adapter dci needs dci_url, dci_signing_key and dci_registry_keys")
            if self.dci_mode == "async" and not self.dci_callback_base:
                raise ValueError("dci_mode async needs dci_callback_base (where the registry calls back)")
        return self
