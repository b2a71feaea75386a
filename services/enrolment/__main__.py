from services.enrolment.app import SPEC, sync_funding_sources_command
from services.enrolment.commands import export_roster_command, import_response_command, renew_command
from shared.service import main

main(
    SPEC,
    "services.enrolment.app:create",
    commands={
        "sync-funding-sources": sync_funding_sources_command,
        "export-roster": export_roster_command,
        "import-bpjs-response": import_response_command,
        "renew": renew_command,
    },
)
