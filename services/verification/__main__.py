from services.verification import snapshot_loader
from services.verification.app import SPEC
from shared.service import main

main(SPEC, "services.verification.app:create", commands={"load-registry": snapshot_loader.command})
