"""Settings of the enrolment service (environment prefix ``PAYUNG_``).

Funding sources are configuration per programme year, not constants: budgets, quotas and the premium change with
each regional budget (APBD). ``PAYUNG_FUNDING_SOURCES`` is a JSON list; the default is the PPU budget of the news
reports (15,000 seats from APBD kabupaten, 5,600 from APBD provinsi, Rp16,800 per person per month).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.settings import ServiceSettings


class FundingSourceConfig(BaseModel):
    """One payer of contributions for one programme year: its headcount quota and monthly premium per person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,31}$", description="Stable identifier, e.g. APBD-KAB")
    name: str = Field(min_length=1)
    quota: int = Field(ge=0, description="Headcount the budget pays for")
    priority: int = Field(description="Allocation order: the lowest number is filled first")
    premium_idr: int = Field(ge=0, description="Contribution per person per month, in rupiah")


DEFAULT_FUNDING_SOURCES = (
    FundingSourceConfig(code="APBD-KAB", name="APBD Kabupaten", quota=15000, priority=1, premium_idr=16800),
    FundingSourceConfig(code="APBD-PROV", name="APBD Provinsi", quota=5600, priority=2, premium_idr=16800),
)


class EnrolmentSettings(ServiceSettings):
    http_port: int = 8003
    programme_year: int = Field(default=2026, ge=2000, le=2100, description="The year whose quotas new seats use")
    funding_sources: tuple[FundingSourceConfig, ...] = Field(
        default=DEFAULT_FUNDING_SOURCES,
        min_length=1,
        description="JSON list of {code, name, quota, priority, premium_idr} for the programme year",
    )
    # The DCI enrolment check for other agencies (enrolled.py)
    dci_programme_id: str = Field(default="payung-bpjstk-6408", description="This programme's id in DCI answers")
    dci_programme_name: str = "Payung: BPJS Ketenagakerjaan (JKK + JKM) bagi pekerja rentan, Kutai Timur"
    enrolment_check_per_minute: int = Field(default=60, ge=1, description="Enrolment checks per partner per minute")
    bpjs_adapter: Literal["local", "http", "file"] = Field(
        default="local",
        description="local: a local number issuer (not BPJS), seats confirmed at once; http: the BPJS web service "
        "(seats wait as pending_bpjs for the registrar); file: roster export and response import",
    )
    bpjs_url: str = Field(default="http://127.0.0.1:8090", description="Base URL of the BPJS registration service")
    bpjs_token: str = Field(default="", description="Bearer token for the BPJS service (required for http)")
    bpjs_timeout_s: float = Field(default=10.0, gt=0)
    bpjs_attempts: int = Field(default=3, ge=1, description="Attempts per request before the seat is postponed")
    bpjs_backoff_s: float = Field(default=0.5, ge=0, description="First wait between attempts, doubled each time")
    bpjs_retry_delay_s: float = Field(default=60.0, gt=0, description="Postponement after BPJS was unavailable")
    bpjs_registrar_interval_s: float = Field(default=2.0, gt=0, description="Idle wait between registrar rounds")
    bpjs_registrar_batch: int = Field(default=50, ge=1)

    @field_validator("funding_sources")
    @classmethod
    def _distinct(cls, sources: tuple[FundingSourceConfig, ...]) -> tuple[FundingSourceConfig, ...]:
        # A repeated code would be upserted twice; a repeated priority would make the allocation order arbitrary.
        for attr in ("code", "priority"):
            values = [getattr(s, attr) for s in sources]
            if len(values) != len(set(values)):
                raise ValueError(f"funding sources must have distinct {attr}s, got {values}")
        return sources

    @model_validator(mode="after")
    def _http_needs_token(self) -> EnrolmentSettings:
        if self.bpjs_adapter == "http" and not self.bpjs_token:
            raise ValueError("PAYUNG_BPJS_TOKEN is required with PAYUNG_BPJS_ADAPTER=http")
        return self
