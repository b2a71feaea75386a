"""Settings of the reporting service (environment prefix ``PAYUNG_``).

Enrolment events carry only a funding source's code, so reporting learns quotas and premiums from configuration:
``PAYUNG_FUNDING_SOURCES`` is the very variable (and JSON format) the enrolment service reads, so one setting feeds
both; fields reporting does not need (``priority``) are ignored. ``PAYUNG_TARGET`` is the programme's coverage target,
``PAYUNG_KECAMATAN_TARGETS`` (``{"64.08.04": 30000, ...}``) its split by kecamatan.
"""

from __future__ import annotations

from datetime import time

from pydantic import BaseModel, ConfigDict, Field

from shared.settings import ServiceSettings


class FundingSource(BaseModel):
    """One payer for the programme year: how many seats its budget pays for and the premium per person per month."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: str
    name: str
    quota: int = Field(ge=0)
    premium_idr: int = Field(ge=0)


# The same defaults as the enrolment service (PPU's budget line of the news reports).
DEFAULT_FUNDING_SOURCES = (
    FundingSource(code="APBD-KAB", name="APBD Kabupaten", quota=15000, premium_idr=16800),
    FundingSource(code="APBD-PROV", name="APBD Provinsi", quota=5600, premium_idr=16800),
)


class ReportingSettings(ServiceSettings):
    http_port: int = 8005
    target: int = Field(default=150_000, ge=1, description="People the programme means to cover")
    programme_year: int = Field(default=2026, ge=2000, le=2100, description="The year budgets are reported for")
    programme_regency: str = Field(default="64.08", description="Dotted regency code whose kecamatan are shown")
    funding_sources: tuple[FundingSource, ...] = Field(default=DEFAULT_FUNDING_SOURCES)
    kecamatan_targets: dict[str, int] = Field(
        default_factory=dict,
        description="People to cover per kecamatan code, JSON (PAYUNG_KECAMATAN_TARGETS); the kecamatan not named"
        " share the rest of the target equally",
    )
    health_cache_s: float = Field(default=5.0, ge=0, description="How long one Kafka lag/dead-letter reading is reused")
    # the forecast of unfilled seats (docs/outreach.md, "Forecast of unfilled seats")
    programme_year_start_month: int = Field(
        default=1, ge=1, le=12, description="The month the programme year starts (1: the calendar year)"
    )
    occupation_target_shares: dict[str, float] = Field(
        default_factory=dict,
        description="The programme's target share of nominations per occupation code, JSON"
        " (PAYUNG_OCCUPATION_TARGET_SHARES); empty: an even split across the catalogue's codes",
    )
    forecast_enabled: bool = Field(default=True, description="Run the daily forecast job")
    forecast_time: time = Field(default=time(7, 0), description="Local (WITA) time after which the day's forecast runs")
    forecast_poll_interval_s: float = Field(default=900.0, gt=0, description="How often the job looks at the clock")
    forecast_desa_limit: int = Field(default=5, ge=1, le=50, description="Desa named in a shortfall forecast")
