"""Settings of the enrolment service (environment prefix ``PAYUNG_``).

Funding sources are configuration per programme year, not constants: budgets, quotas and the premium change with
each regional budget (APBD). ``PAYUNG_FUNDING_SOURCES`` is a JSON list; the default is the PPU budget of the news
reports (15,000 seats from APBD kabupaten, 5,600 from APBD provinsi, Rp16,800 per person per month).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    @field_validator("funding_sources")
    @classmethod
    def _distinct(cls, sources: tuple[FundingSourceConfig, ...]) -> tuple[FundingSourceConfig, ...]:
        # A repeated code would be upserted twice; a repeated priority would make the allocation order arbitrary.
        for attr in ("code", "priority"):
            values = [getattr(s, attr) for s in sources]
            if len(values) != len(set(values)):
                raise ValueError(f"funding sources must have distinct {attr}s, got {values}")
        return sources
