from services.reporting.app import SPEC
from shared.service import main

main(SPEC, "services.reporting.app:create")
