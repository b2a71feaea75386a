from services.reporting import bootstrap
from services.reporting.app import SPEC
from shared.service import main

main(
    SPEC,
    "services.reporting.app:create",
    commands={"population": bootstrap.population_command, "forecast": bootstrap.forecast_command},
)
