"""Importing a village's spreadsheet (CSV or XLSX) of nominations through the nomination service's HTTP API.

The sheet logic (reading, row -> request, the example row, the Idempotency-Key, the answer -> the row's outcome)
lives in the nomination service (services/nomination/sheets.py, sheet_read.py), which serves the same upload in
its portal; this module keeps what only the operator's command does: read a file by its name and send each row as
``POST /v1/nominations`` over HTTP, retrying transport errors and 5xx (the same key makes that safe).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from shared.sheets import read as sheet_read
from shared.sheets import rows as sheets
from shared.sheets.read import SheetRefused
from shared.sheets.rows import ImportResult, RowError, Sheet


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number, {column: text}) for each non-empty data row of a CSV (``,`` or ``;``) or XLSX file."""
    return read_sheet(path).rows


def read_sheet(path: Path) -> Sheet:
    """The file's data rows; the operator names the kind by the file's suffix (.csv or .xlsx)."""
    kind = path.suffix.lower().lstrip(".")
    if kind not in ("csv", "xlsx"):
        raise ValueError(f"{path.name}: only .csv and .xlsx files can be imported")
    try:
        return sheet_read.read_sheet(path.read_bytes(), kind)
    except SheetRefused as exc:
        raise ValueError(f"{path.name}: {exc.message}") from None


async def submit_all(
    client: httpx.AsyncClient,
    requests: Sequence[tuple[int, dict[str, Any]]],
    on_done: Callable[[], None] = lambda: None,
    concurrency: int = 8,
    attempts: int = 4,
) -> ImportResult:
    """POST every request (with its key); transport errors and 5xx are retried, the same key makes that safe."""
    result = ImportResult()
    gate = asyncio.Semaphore(concurrency)

    async def one(number: int, request: dict[str, Any]) -> None:
        key = sheets.idempotency_key(request)
        response: httpx.Response | None = None
        for attempt in range(attempts):
            try:
                async with gate:
                    if result.refused is not None:  # the service refused this caller: send no more rows
                        result.errors.append(RowError(number, "-", sheets.NOT_SENT_ID, f"not sent: {result.refused}"))
                        on_done()
                        return
                    response = await client.post("/v1/nominations", json=request, headers={"Idempotency-Key": key})
                if response.status_code < 500:
                    break
            except httpx.TransportError:
                response = None
            await asyncio.sleep(0.5 * 2**attempt)  # back-off between retries of one row
        _record(result, number, response)
        on_done()

    await asyncio.gather(*(one(n, r) for n, r in requests))
    result.errors.sort(key=lambda e: e.row)
    return result


def _record(result: ImportResult, number: int, response: httpx.Response | None) -> None:
    if response is None:
        result.errors.append(RowError(number, "-", sheets.UNREACHABLE_ID, "service: no answer"))
        return
    content_type = response.headers.get("content-type", "")
    # answers are application/json, errors application/problem+json (RFC 9457)
    body = response.json() if content_type.startswith(("application/json", "application/problem+json")) else {}
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    sheets.record_answer(result, number, response.status_code, replayed, body)
