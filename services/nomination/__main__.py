from services.nomination import bootstrap
from services.nomination.app import SPEC
from shared.service import main

main(SPEC, "services.nomination.app:create", commands={"purge": bootstrap.purge_command})
