import sys

if sys.argv[1:2] == ["preview-template"]:
    # Needs neither settings nor infrastructure: a template author runs it anywhere.
    from services.notification.handlers.preview import command

    raise SystemExit(command(sys.argv[2:]))

from services.notification.app import SPEC
from shared.service import main

main(SPEC, "services.notification.app:create")
