"""The portal's spreadsheet upload: an import job per file, its rows sent in the background (docs/portal.md).

``create`` reads the file (``sheet_read``: kind by content, bounded), checks every row locally (``sheets``) and
stores the job with its rows in one transaction (audited ``upload.created``); rows that make a request are
``pending``. ``UploadWorker`` (a background task of the service) leases pending rows and sends each through
``api.submit_nomination``, the very function behind ``POST /v1/nominations``, as the uploader's principal: the
area check, the nominator claim, the duplicate check, the audit row and the Idempotency-Key (``sheets.
idempotency_key``) are the API's own. A row outside the uploader's area is a row error (403 ``OUT_OF_AREA``).
A restart loses nothing: a leased row whose lease ran out is sent again and, its key being the same, replays.

A job is visible to its uploader's area only (``visible``: 404 elsewhere). The sheet and the requests are personal
data: ``purge`` deletes them ``upload_retention_days`` after the job finished (the header with counts stays).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from services.nomination import api, sheet_files, sheet_read, sheets
from services.nomination.settings import NominationSettings
from shared import audit
from shared.auth import Principal, Role, in_area, system
from shared.db import Conn
from shared.http import field_errors
from shared.logs import get_logger
from shared.service import Runtime

log = get_logger(__name__)
LEASE = timedelta(seconds=30)  # a row a crashed process had taken is sent again after this
MAX_ATTEMPTS = 5  # a row the service could not take (database down) this often is reported, not retried forever


@dataclass(frozen=True)
class Job:
    id: uuid.UUID
    total: int
    done: int
    accepted: int
    refused: int
    finished: bool
    purged: bool
    kind: str


def parse(content: bytes, max_rows: int) -> tuple[str, sheets.Sheet]:
    """The file's kind and rows, or SheetRefused (CPU-bound: callers run it in a thread)."""
    kind = sheet_read.kind_of(content)
    sheet = sheet_read.read_sheet(content, kind, max_rows)
    if not sheet.rows:
        raise sheet_read.SheetRefused("SHEET_EMPTY", "Berkas tidak berisi baris data")
    return kind, sheet


async def create(
    pool: asyncpg.Pool, principal: Principal, content: bytes, kind: str, sheet: sheets.Sheet, batch: sheets.Batch
) -> tuple[uuid.UUID, bool]:
    """Store a job for the file (or find the same file's unfinished job from the same account: a double
    submission makes one job); gives (job id, created)."""
    digest = hashlib.sha256(content).hexdigest()
    batch_json = {"nominator": batch.nominator, "supporting_letter": batch.supporting_letter}
    rows: list[tuple[Any, ...]] = []
    for number, row in sheet.rows:
        if sheets.is_example(row):
            rows.append((number, None, "done", []))
            continue
        request, errors = sheets.to_request(number, row, batch, sheet.numeric.get(number, frozenset()))
        state = "pending" if request is not None else "done"
        rows.append((number, request, state, _errors(errors)))
    local_failed = sum(1 for r in rows if r[2] == "done" and r[3])
    done = sum(1 for r in rows if r[2] == "done")
    async with pool.acquire() as conn, conn.transaction():
        earlier = await conn.fetchval(
            """SELECT id FROM upload_jobs WHERE uploaded_by = $1 AND sha256 = $2 AND batch = $3::jsonb
               AND finished_at IS NULL""",
            principal.name,
            digest,
            batch_json,
        )
        if earlier is not None:
            return earlier, False
        job_id = uuid.uuid4()
        await conn.execute(
            """INSERT INTO upload_jobs (id, uploaded_by, role, area, kind, sha256, size_bytes, content, batch, total,
                                        done, refused, finished_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12,
                       CASE WHEN $11::integer = $10::integer THEN now() END)""",
            job_id,
            principal.name,
            str(principal.role),
            principal.area,
            kind,
            digest,
            len(content),
            content,
            batch_json,
            len(rows),
            done,
            local_failed,
        )
        await conn.executemany(
            """INSERT INTO upload_rows (job_id, row_number, request, state, errors)
               VALUES ($1, $2, $3::jsonb, $4, $5::jsonb)""",
            [(job_id, *r) for r in rows],
        )
        detail = {"kind": kind, "size_bytes": len(content), "rows": len(rows), "area": principal.area}
        await audit.record(conn, principal, "upload.created", job_id, detail)
    return job_id, True


def _errors(errors: Sequence[sheets.RowError]) -> list[dict[str, str]]:
    return [{"column": e.column, "reason_id": e.reason_id, "reason_en": e.reason_en} for e in errors]


def may_see(principal: Principal, job_area: str | None) -> bool:
    """The uploader's area and the accounts above it (a kecamatan sees its desa's jobs; programme staff all)."""
    if principal.area is None:
        return True
    return job_area is not None and in_area(principal.area, job_area)


async def visible(conn: Conn, job_id: uuid.UUID, principal: Principal) -> Job | None:
    """The job for ``principal``, or None when absent or outside its area (the refusal is audited)."""
    row = await conn.fetchrow("SELECT * FROM upload_jobs WHERE id = $1", job_id)
    if row is None:
        return None
    if not may_see(principal, row["area"]):
        await audit.record(conn, principal, "upload.read_denied", job_id, {"reason": "out_of_area"})
        return None
    return Job(
        row["id"],
        row["total"],
        row["done"],
        row["accepted"],
        row["refused"],
        row["finished_at"] is not None,
        row["purged_at"] is not None,
        row["kind"],
    )


async def report(pool: asyncpg.Pool, job_id: uuid.UUID, principal: Principal) -> tuple[Job, bytes] | None:
    """The per-row report as an XLSX (whatever the file was: the portal offers one format), audited."""
    async with pool.acquire() as conn, conn.transaction():
        job = await visible(conn, job_id, principal)
        if job is None or job.purged:
            return None if job is None else (job, b"")
        content = await conn.fetchval("SELECT content FROM upload_jobs WHERE id = $1", job_id)
        rows = await conn.fetch(
            "SELECT row_number, nomination_id, replayed, errors FROM upload_rows WHERE job_id = $1", job_id
        )
        await audit.record(conn, principal, "upload.report_read", job_id, {"rows": len(rows)})
    sheet = await asyncio.to_thread(sheet_read.read_sheet, bytes(content), job.kind)
    result, errors = sheets.ImportResult(), []
    for r in rows:
        if r["nomination_id"] is not None:
            result.nomination_ids[r["row_number"]] = str(r["nomination_id"])
            if r["replayed"]:
                result.replayed_rows.add(r["row_number"])
        for e in r["errors"]:
            errors.append(sheets.RowError(r["row_number"], e["column"], e["reason_id"], e["reason_en"]))
    body, _ = await asyncio.to_thread(sheet_files.report_bytes, sheet, result, errors, "xlsx")
    return job, body


class UploadWorker:
    """Sends the pending rows of every job, oldest first; ``wake`` after an upload, else it polls."""

    def __init__(self, rt: Runtime[NominationSettings], poll_interval_s: float = 2.0, batch: int = 20) -> None:
        self._rt, self._poll, self._batch = rt, poll_interval_s, batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: try again later, the rows stay pending
                log.warning("upload worker waiting", error_type=type(exc).__name__)
                sent = 0
            if sent < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def run_once(self) -> int:
        """Lease up to ``batch`` pending rows and send them one after the other; gives how many were taken."""
        leased = await self._rt.pool.fetch(
            """
            UPDATE upload_rows r SET lease_until = now() + $2::interval, attempts = attempts + 1
            FROM (SELECT job_id, row_number FROM upload_rows
                  WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < now())
                  ORDER BY job_id, row_number LIMIT $1 FOR UPDATE SKIP LOCKED) p
            WHERE r.job_id = p.job_id AND r.row_number = p.row_number
            RETURNING r.job_id, r.row_number, r.request, r.attempts,
                      (SELECT jsonb_build_object('name', uploaded_by, 'role', role, 'area', area)
                       FROM upload_jobs j WHERE j.id = r.job_id) AS who
            """,
            self._batch,
            LEASE,
        )
        for row in sorted(leased, key=lambda r: (str(r["job_id"]), r["row_number"])):
            await self._send(row)
        return len(leased)

    async def _send(self, row: asyncpg.Record) -> None:
        who = row["who"]
        principal = Principal(name=who["name"], role=Role(who["role"]), area=who["area"])
        request = row["request"]
        number = row["row_number"]
        result = sheets.ImportResult()
        try:
            body = api.NominationRequest.model_validate_json(orjson.dumps(request))
        except ValidationError as exc:
            errors = [{"field": f, "message": m} for f, m in field_errors(exc.errors(), drop_body=False)]
            sheets.record_answer(result, number, 422, False, {"errors": errors})
        else:
            try:
                response = await api.submit_nomination(body, self._rt, principal, sheets.idempotency_key(request))
            except Exception as exc:
                if row["attempts"] < MAX_ATTEMPTS:
                    log.warning("upload row not sent, retried later", error_type=type(exc).__name__)
                    return  # the lease runs out and the row is taken again
                sheets.record_answer(result, number, 503, False, {})
            else:
                answer = orjson.loads(response.body)
                replayed = response.headers.get("Idempotent-Replayed") == "true"
                sheets.record_answer(result, number, response.status_code, replayed, answer)
        await self._finish(row["job_id"], number, result)

    async def _finish(self, job_id: uuid.UUID, number: int, result: sheets.ImportResult) -> None:
        nomination_id = result.nomination_ids.get(number)
        accepted, refused = (1, 0) if nomination_id else (0, 1)
        async with self._rt.pool.acquire() as conn, conn.transaction():
            changed = await conn.execute(
                """UPDATE upload_rows SET state = 'done', nomination_id = $3, replayed = $4, errors = $5::jsonb,
                          lease_until = NULL
                   WHERE job_id = $1 AND row_number = $2 AND state = 'pending'""",
                job_id,
                number,
                None if nomination_id is None else uuid.UUID(nomination_id),
                number in result.replayed_rows,
                _errors(result.errors),
            )
            if changed == "UPDATE 0":
                return  # another process finished it meanwhile
            await conn.execute(
                """UPDATE upload_jobs SET done = done + 1, accepted = accepted + $2, refused = refused + $3,
                          finished_at = CASE WHEN done + 1 = total THEN now() END
                   WHERE id = $1""",
                job_id,
                accepted,
                refused,
            )


async def purge(conn: Conn, retention_days: int) -> int:
    """Delete the sheet and the rows of jobs finished more than ``retention_days`` ago (audited as one row)."""
    purged = await conn.fetch(
        """UPDATE upload_jobs SET content = NULL, purged_at = now()
           WHERE finished_at < now() - $1::interval AND purged_at IS NULL RETURNING id""",
        timedelta(days=retention_days),
    )
    ids = [r["id"] for r in purged]
    if ids:
        await conn.execute("DELETE FROM upload_rows WHERE job_id = ANY($1::uuid[])", ids)
    await audit.record(conn, system("nomination"), "upload.purged", None, {"count": len(ids), "days": retention_days})
    return len(ids)
