"""The portal's spreadsheet upload: an import job per file, its rows sent by a background job (docs/portal.md).

``create`` checks every row locally (``shared.sheets.rows``) and stores the job with its rows in one transaction
(audited ``upload.created``); rows that make a request are ``pending``. The ``uploads`` job (``step``) leases
pending rows and sends each through ``submission.submit``, the handler behind ``POST /v1/nominations``, as the
uploader's principal: the area check, the nominator claim, the duplicate check, the audit row and the
Idempotency-Key (``rows.idempotency_key``) are the API's own. A row outside the uploader's area is a row error
(403 ``OUT_OF_AREA``). A restart loses nothing: a leased row whose lease ran out is sent again and, its key being
the same, replays.

A job is visible to its uploader's area only (404 elsewhere). The sheet and the requests are personal data:
``purge`` deletes them ``upload_retention_days`` after the job finished (the header with counts stays).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import orjson
from pydantic import ValidationError

from services.nomination.commands import (
    CreateUpload,
    FinishUploadRow,
    LeaseUploadRows,
    NominationRequest,
    PurgeUploads,
    ReadUpload,
    RefuseUpload,
    SubmitNomination,
)
from services.nomination.errors import IdempotencyKeyReused
from services.nomination.handlers import access, submission
from services.nomination.handlers.access import ClaimRefused, OutOfArea
from services.nomination.repository import uploads
from shared import audit, messaging
from shared.auth import Principal, Role, system
from shared.db import Conn
from shared.http import field_errors
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled
from shared.sheets import files as sheet_files
from shared.sheets import read as sheet_read
from shared.sheets import rows as sheets

if TYPE_CHECKING:  # handlers get the Deps the bootstrap builds (which imports them)
    from services.nomination.bootstrap import Deps

log = get_logger(__name__)
LEASE = timedelta(seconds=30)  # a row a crashed process had taken is sent again after this
MAX_ATTEMPTS = 5  # a row the service could not take (database down) this often is reported, not retried forever
ROWS_PER_ROUND = 20


@dataclass(frozen=True)
class UploadJob:
    id: uuid.UUID
    total: int
    done: int
    accepted: int
    refused: int
    finished: bool
    purged: bool
    kind: str


async def create(deps: Deps, conn: Conn, cmd: CreateUpload) -> Handled[tuple[uuid.UUID, bool]]:
    """Store a job for the file (or find the same file's unfinished job from the same account: a double
    submission makes one job); gives (job id, created)."""
    digest = hashlib.sha256(cmd.content).hexdigest()
    batch = {"nominator": cmd.batch.nominator, "supporting_letter": cmd.batch.supporting_letter}
    rows: list[tuple[int, dict[str, Any] | None, str, list[dict[str, str]]]] = []
    for number, row in cmd.sheet.rows:
        if sheets.is_example(row):
            rows.append((number, None, "done", []))
            continue
        request, errors = sheets.to_request(number, row, cmd.batch, cmd.sheet.numeric.get(number, frozenset()))
        rows.append((number, request, "pending" if request is not None else "done", _errors(errors)))
    earlier = await uploads.unfinished_job(conn, cmd.caller.name, digest, batch)
    if earlier is not None:
        return Handled((earlier, False))
    job_id = uuid.uuid4()
    await uploads.insert_job(conn, job_id, cmd.caller, cmd.kind, digest, cmd.content, batch, rows)
    detail = {"kind": cmd.kind, "size_bytes": len(cmd.content), "rows": len(rows), "area": cmd.caller.area}
    await audit.record(conn, cmd.caller, "upload.created", job_id, detail)
    return Handled((job_id, True))


def _errors(errors: Sequence[sheets.RowError]) -> list[dict[str, str]]:
    return [{"column": e.column, "reason_id": e.reason_id, "reason_en": e.reason_en} for e in errors]


async def refuse(deps: Deps, conn: Conn, cmd: RefuseUpload) -> Handled[None]:
    """A refused upload is audited too (its code and size, never its content)."""
    await audit.record(conn, cmd.caller, "upload.refused", None, {"code": cmd.code, "size_bytes": cmd.size_bytes})
    return Handled(None)


async def _visible(conn: Conn, caller: Principal, job_id: uuid.UUID) -> UploadJob | None:
    row = await uploads.job(conn, job_id)
    if row is None or not await access.allowed(conn, caller, row["area"], denied="upload.read_denied", subject=job_id):
        return None
    return UploadJob(
        row["id"],
        row["total"],
        row["done"],
        row["accepted"],
        row["refused"],
        row["finished_at"] is not None,
        row["purged_at"] is not None,
        row["kind"],
    )


async def read(deps: Deps, conn: Conn, cmd: ReadUpload) -> Handled[UploadJob | None]:
    """The job for the caller (its uploader's area and the accounts above it), audited; None when absent or
    outside the area (the refusal is audited)."""
    job = await _visible(conn, cmd.caller, cmd.job_id)
    if job is not None:
        await audit.record(conn, cmd.caller, "upload.read", cmd.job_id, {"done": job.done, "total": job.total})
    return Handled(job)


@dataclass(frozen=True)
class _ReportData:
    job: UploadJob
    content: bytes
    rows: list[asyncpg.Record]


async def _report_data(deps: Deps, conn: Conn, cmd: ReadUpload) -> Handled[UploadJob | _ReportData | None]:
    job = await _visible(conn, cmd.caller, cmd.job_id)
    if job is None or job.purged:
        return Handled(job)
    content = await uploads.job_content(conn, cmd.job_id)
    rows = await uploads.row_outcomes(conn, cmd.job_id)
    await audit.record(conn, cmd.caller, "upload.report_read", cmd.job_id, {"rows": len(rows)})
    return Handled(_ReportData(job, content or b"", rows))


async def report(deps: Deps, cmd: ReadUpload) -> tuple[UploadJob, bytes] | None:
    """The per-row report as an XLSX (whatever the file was: the portal offers one format), audited: the reads in
    one transaction, then the file is built outside it (CPU-bound, in a thread)."""
    found = await messaging.run(deps, _report_data, cmd)
    if found is None or isinstance(found, UploadJob):
        return None if found is None else (found, b"")
    sheet = await asyncio.to_thread(sheet_read.read_sheet, found.content, found.job.kind)
    result, errors = sheets.ImportResult(), []
    for r in found.rows:
        if r["nomination_id"] is not None:
            result.nomination_ids[r["row_number"]] = str(r["nomination_id"])
            if r["replayed"]:
                result.replayed_rows.add(r["row_number"])
        for e in r["errors"]:
            errors.append(sheets.RowError(r["row_number"], e["column"], e["reason_id"], e["reason_en"]))
    body, _ = await asyncio.to_thread(sheet_files.report_bytes, sheet, result, errors, "xlsx")
    return found.job, body


# ------------------------------------------------------------------------------------------- the uploads job


async def step(deps: Deps) -> Next:
    """One round of the ``uploads`` job: more at once while full rounds come back."""
    return Next.NOW if await send_pending(deps) >= ROWS_PER_ROUND else Next.WAIT


async def send_pending(deps: Deps) -> int:
    """Lease up to ``ROWS_PER_ROUND`` pending rows and send them one after the other (one transaction each, as
    ``POST /v1/nominations`` would); gives how many were taken."""
    leased = await messaging.run(deps, lease, LeaseUploadRows(limit=ROWS_PER_ROUND))
    for row in sorted(leased, key=lambda r: (str(r["job_id"]), r["row_number"])):
        await _send(deps, row)
    return len(leased)


async def lease(deps: Deps, conn: Conn, cmd: LeaseUploadRows) -> Handled[list[asyncpg.Record]]:
    return Handled(await uploads.lease_pending(conn, cmd.limit, LEASE))


async def _send(deps: Deps, row: asyncpg.Record) -> None:
    who = row["who"]
    caller = Principal(name=who["name"], role=Role(who["role"]), area=who["area"])
    request = row["request"]
    number = row["row_number"]
    result = sheets.ImportResult()
    try:
        body = NominationRequest.model_validate_json(orjson.dumps(request))
    except ValidationError as exc:
        errors = [{"field": f, "message": m} for f, m in field_errors(exc.errors(), drop_body=False)]
        sheets.record_answer(result, number, 422, False, {"errors": errors})
    else:
        command = SubmitNomination(caller=caller, request=body, idempotency_key=sheets.idempotency_key(request))
        try:
            status, replayed, answer = await _submitted(deps, command)
        except Exception as exc:
            if row["attempts"] < MAX_ATTEMPTS:
                log.warning("upload row not sent, retried later", error_type=type(exc).__name__)
                return  # the lease runs out and the row is taken again
            sheets.record_answer(result, number, 503, False, {})
        else:
            sheets.record_answer(result, number, status, replayed, answer)
    nomination_id = result.nomination_ids.get(number)
    errors_out = tuple((e.column, e.reason_id, e.reason_en) for e in result.errors)
    finish = FinishUploadRow(
        job_id=row["job_id"],
        row_number=number,
        nomination_id=None if nomination_id is None else uuid.UUID(nomination_id),
        replayed=number in result.replayed_rows,
        errors=errors_out,
    )
    await messaging.run(deps, finish_row, finish)


async def _submitted(deps: Deps, command: SubmitNomination) -> tuple[int, bool, dict[str, Any]]:
    """What ``POST /v1/nominations`` would have answered for this row: status, replayed, the body's members that
    ``rows.record_answer`` reads (the CLI gets the same over HTTP)."""
    try:
        outcome = await messaging.run(deps, submission.submit, command, retry_on=(asyncpg.UniqueViolationError,))
    except IdempotencyKeyReused:
        message = "was already used for a different request body"
        return 422, False, {"errors": [{"field": "header.Idempotency-Key", "message": message}]}
    match outcome:
        case submission.Submitted(nomination_id=nid, created=created):
            return 202, not created, {"nomination_id": str(nid)}
        case submission.AlreadyNominated(nomination_id=nid, visible=visible):
            return 409, False, {"code": "ALREADY_NOMINATED", **({"nomination_id": str(nid)} if visible else {})}
        case OutOfArea():
            return 403, False, {"code": "OUT_OF_AREA"}
        case ClaimRefused(reason=reason):
            return 403, False, {"code": "NOMINATOR_NOT_ALLOWED", "errors": [{"field": "nominator", "message": reason}]}
    raise AssertionError(f"unexpected outcome {outcome!r}")


async def finish_row(deps: Deps, conn: Conn, cmd: FinishUploadRow) -> Handled[bool]:
    errors = [{"column": c, "reason_id": i, "reason_en": e} for c, i, e in cmd.errors]
    return Handled(await uploads.finish_row(conn, cmd.job_id, cmd.row_number, cmd.nomination_id, cmd.replayed, errors))


async def purge(deps: Deps, conn: Conn, cmd: PurgeUploads) -> Handled[int]:
    """Delete the sheet and the rows of jobs finished more than ``retention_days`` ago (audited as one row)."""
    count = await uploads.purge(conn, cmd.retention_days)
    detail = {"count": count, "days": cmd.retention_days}
    await audit.record(conn, system("nomination"), "upload.purged", None, detail)
    return Handled(count)
