"""The synthetic fill of ``bench.reads``: N nominations written straight into the read models with COPY.

Why not through the pipeline: 500,000 nominations through five services cost ~30+ minutes of CPU on two cores,
and what the read benchmark needs is only the tables the reads scan. The rows are the ones the services write:
the nomination service's ``nominations`` (person key = HMAC of the NIK with the instance's secret, NIK and name in
clear as ``repository.nominations.insert`` stores them, progress folded into its ``Progress`` and serialised by the
repository's own ``_progress_json``), its ``nomination_history`` (one row per event, the details the progress
handler keeps) and ``audit_log`` (the submission's row); reporting's ``report_nominations`` built as its
``NominationRow`` (status and kecamatan derived by the read model itself). Requests come from ``tools.synthetic``
(a pool of realistic people, desa codes of Kutai Timur, the generator's outcome mix), each reused with a fresh NIK;
dates spread over the year before the fill.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from services.nomination.commands import NominationRequest
from services.nomination.domain import Progress
from services.nomination.repository.nominations import _progress_json
from services.reporting.domain.readmodel import NominationRow
from shared.keys import person_key
from tools.synthetic import generate_nominations, generate_registry, programme_today, write_registry

REGENCY = "64.08"
# What becomes of an accepted nomination (the rest of the generator's mix is rejected, per its expected reason):
# most are covered, the seats run out for some, a few are still under way or ended.
ACCEPTED_FATE = (("enrolled", 0.80), ("waitlisted", 0.14), ("ended", 0.02), ("verified", 0.03), ("in_review", 0.01))
# Funding sources by their default quotas (services/reporting/settings.py: 15,000 and 5,600 seats).
SOURCES = (("APBD-KAB", "APBD Kabupaten", 0.73), ("APBD-PROV", "APBD Provinsi", 0.27))
NOMINATION_COLUMNS = (
    "id",
    "person_key",
    "nik",
    "full_name",
    "birth_date",
    "sex",
    "phone",
    "address",
    "desa_code",
    "occupation",
    "nominator",
    "supporting_letter",
    "status",
    "outcome",
    "progress",
    "submitted_at",
    "updated_at",
)
HISTORY_COLUMNS = ("nomination_id", "event_id", "stage", "detail", "occurred_at", "recorded_at")
AUDIT_COLUMNS = ("at", "principal", "role", "area", "action", "subject_id", "detail")
_ROW_FIELDS = tuple(f.name for f in fields(NominationRow))
REPORT_COLUMNS = (*_ROW_FIELDS, "status", "kecamatan_code", "updated_at")


@dataclass(frozen=True)
class PoolItem:
    """A validated request (as ``NominationRequest.model_dump`` gives it to the repository) and its expected end."""

    request: dict[str, Any]
    expected: str  # "accepted" or "rejected:<CODE>"
    # the request's JSON columns, serialised once (every pool item is used N / pool size times)
    address: str = ""
    nominator: str = ""
    letter: str | None = None

    @classmethod
    def of(cls, request: dict[str, Any], expected: str) -> PoolItem:
        letter = request["supporting_letter"]
        return cls(
            {**request, "occupation": str(request["occupation"])},
            expected,
            _json(request["address"]),
            _json(request["nominator"]),
            None if letter is None else _json(letter),
        )


@dataclass(frozen=True)
class Filled:
    """The rows one nomination leaves in both services' tables (tuples in the COPY column orders above)."""

    nomination: tuple[Any, ...]
    history: list[tuple[Any, ...]]
    audit: tuple[Any, ...]
    report: tuple[Any, ...]


def make_pool(size: int, workdir: Path, seed: int = 17) -> list[PoolItem]:
    """``size`` requests from ``tools.synthetic`` (a registry twice as large, then nominations drawn from it),
    duplicates and invalid ones left out (the service never stores them)."""
    registry = workdir / f"reads-registry-{size}-{seed}.csv"
    registry.parent.mkdir(parents=True, exist_ok=True)
    people = generate_registry(2 * size, seed=seed, regency=REGENCY, reference_date=programme_today())
    write_registry(people, registry)
    pool = []
    for item in generate_nominations(registry, size, seed=seed, regency=REGENCY, reference_date=programme_today()):
        if item.expected == "accepted" or item.expected.startswith("rejected:"):
            request = NominationRequest.model_validate(item.request).model_dump(mode="python")
            pool.append(PoolItem.of(request, item.expected))
    return pool


def fate(expected: str, rng: random.Random) -> str:
    """Where a nomination ends: the rejection the generator expected, else a draw from ``ACCEPTED_FATE``."""
    if expected.startswith("rejected:"):
        return "rejected"
    x = rng.random()
    for name, share in ACCEPTED_FATE:
        x -= share
        if x < 0:
            return name
    return ACCEPTED_FATE[0][0]


@dataclass
class Filler:
    """Turns pool items into rows; keeps the NIK serials used so every generated NIK (and person key) is new."""

    secret: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    seed: int = 3
    _serials: Counter[str] = field(default_factory=Counter)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def nik(self, original: str) -> str:
        """The original's region and birth digits with the next unused serial (NIKs are 16 digits: 6 + 6 + 4)."""
        head = original[:12]
        self._serials[head] += 1
        serial = self._serials[head]
        return f"{head}{serial % 10000:04d}" if serial < 10000 else f"{head[:6]}{serial:010d}"[:16]

    def row(self, item: PoolItem) -> Filled:
        rng = self.rng
        request = item.request
        nomination_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        nik = self.nik(request["nik"])
        key = person_key(nik, self.secret)
        submitted = self.now - timedelta(seconds=rng.uniform(3600, 365 * 86400))
        end = fate(item.expected, rng)
        source = SOURCES[0] if rng.random() < SOURCES[0][2] else SOURCES[1]
        steps = _steps(end, item.expected, submitted, rng, source, nomination_id)
        progress = _progress(end, steps)
        desa = request["address"]["desa_code"]
        history = [(nomination_id, uuid.UUID(int=rng.getrandbits(128), version=4), *s) for s in steps]
        updated = steps[-1][2] if steps else submitted
        nomination = (
            nomination_id,
            key,
            nik,
            request["full_name"],
            request["birth_date"],
            request["sex"],
            request["phone"],
            item.address,
            desa,
            request["occupation"],
            item.nominator,
            item.letter,
            progress.status,
            progress.outcome,
            _json(_progress_json(progress)),
            submitted,
            updated,
        )
        audit = (
            submitted,
            "admin",
            "admin",
            None,
            "nomination.submitted",
            str(nomination_id),
            _json({"desa_code": desa, "nominator_type": request["nominator"]["type"], "batch": True}),
        )
        report = _report(nomination_id, request, submitted, steps, updated)
        return Filled(nomination, [(*h[:3], _json(h[3]), h[4], h[5]) for h in history], audit, report)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


Step = tuple[str, dict[str, Any], datetime, datetime]  # stage, detail, occurred at, recorded at


def _steps(
    end: str, expected: str, submitted: datetime, rng: random.Random, source: tuple[str, str, float], nid: uuid.UUID
) -> list[Step]:
    """The events a nomination's history shows on its way to ``end`` (details as handlers/progress.py keeps them)."""
    at = submitted
    out: list[Step] = []

    def step(stage: str, detail: dict[str, Any], minutes: float) -> None:
        nonlocal at
        at = at + timedelta(minutes=rng.uniform(0.01, minutes))
        out.append((stage, detail, at, at + timedelta(milliseconds=rng.uniform(5, 400))))

    if end == "in_review":
        step("in_review", {"flags": ["POSSIBLE_DUPLICATE"], "name_score": round(rng.uniform(0.8, 0.95), 3)}, 5)
        return out
    if end == "rejected":
        code = expected.split(":", 1)[1]
        step("rejected", {"reasons": [{"code": code, "detail": code.replace("_", " ").lower()}]}, 5)
        step("notified", {"purpose": "identity_rejected", "channel": "sms", "recipient_role": "nominator"}, 3)
        return out
    step("verified", {"layer": "registry", "name_score": round(rng.uniform(0.9, 1), 3)}, 5)
    if end == "verified":
        return out
    year = (at + timedelta(hours=8)).year
    if end == "waitlisted":
        step("waitlisted", {"funding_source": source[0], "programme_year": year, "position": rng.randint(1, 9000)}, 5)
        step("notified", {"purpose": "enrolment_waitlisted", "channel": "sms", "recipient_role": "beneficiary"}, 3)
        return out
    number = f"KPJ{nid.int % 10**11:011d}"
    start = (at + timedelta(days=1)).date().isoformat()
    enrolled = {"funding_source": source[0], "programme_year": year, "membership_number": number}
    step("enrolled", {**enrolled, "coverage_start": start}, 30)
    step("notified", {"purpose": "enrolment_confirmed", "channel": "sms", "recipient_role": "beneficiary"}, 3)
    if end == "ended":
        step("ended", {"reason": "moved_away", "coverage_end": (at + timedelta(days=60)).date().isoformat()}, 86400)
        step("notified", {"purpose": "enrolment_ended", "channel": "sms", "recipient_role": "beneficiary"}, 3)
    return out


def _progress(end: str, steps: Sequence[Step]) -> Progress:
    """The nomination service's fold of those steps (the fields its domain keeps)."""
    details = {stage: detail for stage, detail, _, _ in steps}
    purposes = frozenset(d["purpose"] for s, d, _, _ in steps if s == "notified")
    if end == "in_review":
        return Progress(in_review=True)
    if end == "rejected":
        return Progress(outcome="rejected", reasons=tuple(details["rejected"]["reasons"]), notified_purposes=purposes)
    if end == "verified":
        return Progress(verified=True)
    if end == "waitlisted":
        w = details["waitlisted"]
        return Progress(
            verified=True,
            outcome="waitlisted",
            funding_source=w["funding_source"],
            waitlist_position=w["position"],
            notified_purposes=purposes,
        )
    e = details["enrolled"]
    name = dict((code, label) for code, label, _ in SOURCES)[e["funding_source"]]
    return Progress(
        verified=True,
        outcome=end,
        membership_number=e["membership_number"],
        funding_source=e["funding_source"],
        notified_purposes=purposes,
        end_reason=details["ended"]["reason"] if end == "ended" else None,
        coverage_start=e["coverage_start"],
        funding_source_name=name,
    )


def _report(
    nid: uuid.UUID, request: dict[str, Any], submitted: datetime, steps: Sequence[Step], updated: datetime
) -> tuple[Any, ...]:
    at = {stage: occurred for stage, _, occurred, _ in steps}
    details = {stage: detail for stage, detail, _, _ in steps}
    seat = details.get("enrolled") or details.get("waitlisted") or {}
    ended: date | None = date.fromisoformat(details["ended"]["coverage_end"]) if "ended" in details else None
    row = NominationRow(
        nomination_id=nid,
        desa_code=request["address"]["desa_code"],
        occupation=request["occupation"],
        nominator_type=request["nominator"]["type"],
        submitted_at=submitted,
        review_requested_at=at.get("in_review"),
        verified_at=at.get("verified"),
        rejected_at=at.get("rejected"),
        waitlisted_at=at.get("waitlisted"),
        enrolled_at=at.get("enrolled"),
        ended_on=ended,
        end_reason=details["ended"]["reason"] if "ended" in details else None,
        funding_source=seat.get("funding_source"),
        programme_year=seat.get("programme_year"),
        rejection_reasons=tuple(r["code"] for r in details.get("rejected", {}).get("reasons", ())),
        notifications_sent=sum(1 for s, _, _, _ in steps if s == "notified"),
    )
    values = [getattr(row, name) for name in _ROW_FIELDS]
    values[REPORT_COLUMNS.index("rejection_reasons")] = list(row.rejection_reasons)
    return (*values, row.status, row.kecamatan_code, updated)


async def fill(
    nomination_db: str, reporting_db: str, pool: list[PoolItem], n: int, secret: str, chunk: int = 20_000
) -> dict[str, int]:
    """Write ``n`` nominations (pool items in turn, each with a new NIK) in chunks of COPY; returns rows written."""
    filler = Filler(secret)
    nom = await asyncpg.connect(nomination_db)
    rep = await asyncpg.connect(reporting_db)
    written = Counter[str]()
    try:
        for start in range(0, n, chunk):
            rows = [filler.row(pool[i % len(pool)]) for i in range(start, min(n, start + chunk))]
            await nom.copy_records_to_table(
                "nominations", records=[r.nomination for r in rows], columns=NOMINATION_COLUMNS
            )
            history = [h for r in rows for h in r.history]
            await nom.copy_records_to_table("nomination_history", records=history, columns=HISTORY_COLUMNS)
            await nom.copy_records_to_table("audit_log", records=[r.audit for r in rows], columns=AUDIT_COLUMNS)
            await rep.copy_records_to_table(
                "report_nominations", records=[r.report for r in rows], columns=REPORT_COLUMNS
            )
            written.update(nominations=len(rows), history=len(history), audit=len(rows), report=len(rows))
            print(f"    filled {start + len(rows)} / {n}", flush=True)
        # The tallies the fold keeps in its transaction (issue 17), from the rows: the SQL migration 0004 runs.
        await rep.execute("SELECT report_tallies_rebuild()")
    finally:
        await nom.close()
        await rep.close()
    return dict(written)
