from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from shared.regions import DEFAULT_FILE, DEFAULT_VERSION
from shared.settings import ServiceSettings


class VerificationSettings(ServiceSettings):
    http_port: int = 8002
    name_match_threshold: float = Field(
        default=80.0, ge=0, le=100, description="Lowest name score (0 to 100) that counts as the registry's name"
    )
    min_age: int = Field(default=18, ge=0, description="Youngest age, in completed years, the programme covers")
    max_age: int = Field(default=65, ge=0, description="Oldest age, in completed years, the programme covers")
    region_data_file: Path = Field(default=DEFAULT_FILE, description="Official region list (CSV) for NIK checks")
    region_data_version: str = DEFAULT_VERSION

    @model_validator(mode="after")
    def _ages_in_order(self) -> Self:
        if self.min_age > self.max_age:
            raise ValueError("min_age must not exceed max_age")
        return self
