"""The BPJS batch file exchange (``PAYUNG_BPJS_ADAPTER=file``), as the command line runs it: the month's roster
out (read in one transaction, written to the file after it), BPJS's response in (parsed first, then applied in
one transaction)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from services.enrolment import domain
from services.enrolment.adapters import bpjs_files
from services.enrolment.commands import ApplyAnswers, ExportRoster
from services.enrolment.handlers.answers import AnswerResult, apply_answers
from services.enrolment.handlers.seats import request_from_seat
from services.enrolment.repository import lifecycle as lrepo
from shared import messaging
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.enrolment.bootstrap import Deps


async def export_roster(deps: Deps, month: str, fmt: str, out: Path) -> int:
    """Write the roster of the seats waiting for BPJS whose cover starts in ``month`` (YYYY-MM); how many."""
    requests = await messaging.run(deps, roster, ExportRoster(month=month))
    return bpjs_files.write_roster(requests, out, fmt)


async def import_response(deps: Deps, path: Path) -> tuple[AnswerResult, list[str]]:
    """Apply a BPJS response file; the rows that do not parse are returned, not applied."""
    parsed = bpjs_files.parse_response(bpjs_files.read_table(path))
    command = ApplyAnswers(answers=tuple(parsed.answers), recorded_by=f"bpjs:file:{path.name}")
    return await messaging.run(deps, apply_answers, command), parsed.errors


async def roster(_deps: Deps, conn: Conn, cmd: ExportRoster) -> Handled[list[domain.MembershipRequest]]:
    first = date.fromisoformat(f"{cmd.month}-01")
    seats = await lrepo.roster(conn, first, domain.last_day_of_month(first))
    return Handled([request_from_seat(s) for s in seats])
