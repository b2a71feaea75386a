from services.enrolment.app import SPEC, sync_funding_sources_command
from shared.service import main

main(SPEC, "services.enrolment.app:create", commands={"sync-funding-sources": sync_funding_sources_command})
