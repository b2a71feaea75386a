from services.notification.app import SPEC
from shared.service import main

main(SPEC, "services.notification.app:create")
