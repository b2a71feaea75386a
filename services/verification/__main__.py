from services.verification import recheck, roster_loader, snapshot_loader
from services.verification.app import SPEC
from shared.service import main

main(
    SPEC,
    "services.verification.app:create",
    commands={
        "load-registry": snapshot_loader.command,
        "load-wage-earners": roster_loader.command,
        "recheck": recheck.command,
    },
)
