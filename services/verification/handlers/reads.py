"""Reads: a decision with its checks, the registry snapshots, the review queue. Reads of personal data (and which
cases a caller was shown) are audited with the caller, in the read's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.verification.commands import ListReviews, ListSnapshots, ReadVerification, ReviewQueue
from services.verification.repository import registry as registry_repo
from services.verification.repository import reviews as reviews_repo
from services.verification.repository import verifications as repository
from shared import audit
from shared.db import Conn
from shared.messaging import Handled

if TYPE_CHECKING:  # the bootstrap builds Deps and imports the handlers for its jobs
    from services.verification.bootstrap import Deps


async def read_verification(deps: Deps, conn: Conn, cmd: ReadVerification) -> Handled[dict[str, Any] | None]:
    """The decision on one nomination (codes and scores), None before it is decided; a found one is audited."""
    row = await repository.get_verification(conn, cmd.nomination_id)
    if row is None:
        return Handled(None)
    await audit.record(conn, cmd.caller, "verification.read", cmd.nomination_id)
    return Handled(dict(row))


async def list_snapshots(deps: Deps, conn: Conn, cmd: ListSnapshots) -> Handled[list[dict[str, Any]]]:
    return Handled([dict(r) for r in await registry_repo.recent_snapshots(conn, cmd.limit)])


async def list_reviews(deps: Deps, conn: Conn, cmd: ListReviews) -> Handled[list[dict[str, Any]]]:
    """Cases by id; which cases the caller was shown is audited."""
    rows = await reviews_repo.list_reviews(conn, cmd.status, cmd.desa_code, cmd.after_id, cmd.limit)
    items = [dict(r) for r in rows]
    detail = {"status": cmd.status, "desa_code": cmd.desa_code, "ids": [i["id"] for i in items]}
    await audit.record(conn, cmd.caller, "reviews.listed", None, detail)
    return Handled(items)


async def review_queue(deps: Deps, conn: Conn, cmd: ReviewQueue) -> Handled[list[dict[str, Any]]]:
    """The workspace's open cases: a reviewer scoped to an area sees its area's cases only."""
    area = cmd.kecamatan
    if cmd.caller.area is not None and (area is None or not cmd.caller.covers(area)):
        area = cmd.caller.area
    rows = await reviews_repo.list_reviews(conn, "open", None, 0, cmd.limit, area=area, reason_code=cmd.reason_code)
    detail = {"kecamatan": cmd.kecamatan, "reason": cmd.reason_code, "ids": [r["id"] for r in rows]}
    await audit.record(conn, cmd.caller, "reviews.listed", None, detail)
    return Handled([dict(r) for r in rows])
