"""Issue 15's reporting use cases: the forecast of unfilled seats (the daily job, the command, the dashboard's
panel), the eligible population per desa (loaded from a CSV), the objection counts.

The daily job (``step``) records each funding source's forecast of the local day once (``report_forecasts``' key
is (source, day)) and, for a source that will not fill, writes its ``QuotaShortfallForecast`` to the outbox in the
same transaction: a second replica, a restart or the on-demand command the same day publishes nothing again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from services.reporting import repository
from services.reporting.commands import ForecastQuery, LoadPopulation, ObjectionsQuery, RunForecast
from services.reporting.domain import forecast, labels, objections, shortfall
from services.reporting.domain.figures import region_name
from services.reporting.domain.readmodel import WITA
from shared import messaging
from shared.contracts import DesaShortfall, QuotaShortfallForecast, new_envelope
from shared.db import Conn
from shared.formats import OCCUPATIONS
from shared.jobs import Next
from shared.logs import get_logger
from shared.messaging import Handled

if TYPE_CHECKING:
    from services.reporting.bootstrap import Deps

log = get_logger(__name__)
Report = dict[str, Any]
FORECAST_NAMESPACE = uuid.UUID("6d3c1f0e-5b8a-4f61-9a7e-2c0b9d4e8a17")


def forecast_id(funding_source: str, as_of: date) -> uuid.UUID:
    """Stable per (source, day): the same forecast computed twice has one id."""
    return uuid.uuid5(FORECAST_NAMESPACE, f"{funding_source}/{as_of.isoformat()}")


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(WITA).date()


# ------------------------------------------------------------------------------------------------ the forecast


async def _compute(deps: Deps, conn: Conn, as_of: date) -> Report:
    """Every source's forecast, the under-represented categories and the desa to reach (nothing recorded)."""
    settings = deps.settings
    year = forecast.ProgrammeYear(settings.programme_year, settings.programme_year_start_month)
    histories = await repository.source_history(conn, year.year)
    empty = forecast.History({}, {})
    sources = [
        (s, forecast.forecast(s.code, s.quota, s.premium_idr, histories.get(s.code, empty), year, as_of))
        for s in settings.funding_sources
    ]
    under = shortfall.under_represented(
        await repository.nominations_by_occupation(conn), OCCUPATIONS, settings.occupation_target_shares
    )
    regency = settings.programme_regency + "."
    desa_codes = [r.code for r in deps.regions.by_level("desa_kelurahan") if r.code.startswith(regency)]
    population = await repository.population(conn)
    desa = shortfall.fewest_nominations(
        desa_codes, await repository.nominations_by_desa(conn), population, settings.forecast_desa_limit
    )
    return {"year": year, "sources": sources, "under": under, "desa": desa, "has_population": bool(population)}


async def forecast_report(deps: Deps, conn: Conn, query: ForecastQuery) -> Handled[Report]:
    """The dashboard's panel and ``GET /v1/reports/forecast``: figures per source, categories, desa."""
    c = await _compute(deps, conn, query.as_of)
    year: forecast.ProgrammeYear = c["year"]
    return Handled(
        {
            "as_of": query.as_of.isoformat(),
            "programme_year": year.year,
            "programme_year_end": year.end.isoformat(),
            "sources": [
                {**asdict(f), "as_of": f.as_of.isoformat(), "name": s.name, "premium_idr": s.premium_idr}
                for s, f in c["sources"]
            ],
            "totals": {
                "seats_left": sum(f.seats_left for _, f in c["sources"]),
                "unspent_rupiah": sum(f.unspent_rupiah for _, f in c["sources"]),
            },
            "under_represented": [{"code": code, "label": labels.occupation(code, query.lang)} for code in c["under"]],
            "has_population": c["has_population"],
            "desa": [
                {**asdict(d), "name": region_name(deps.regions, d.desa_code), "per_thousand": d.per_thousand}
                for d in c["desa"]
            ],
        }
    )


async def run_forecast(deps: Deps, conn: Conn, cmd: RunForecast) -> Handled[list[Report]]:
    """Record the day's forecast of every source (once) and publish the shortfalls (the module docstring)."""
    c = await _compute(deps, conn, cmd.as_of)
    year: forecast.ProgrammeYear = c["year"]
    desa = tuple(
        DesaShortfall(desa_code=d.desa_code, nominations=d.nominations, eligible_population=d.eligible_population)
        for d in c["desa"]
    )
    answers, events = [], []
    for source, f in c["sources"]:
        fid = forecast_id(source.code, cmd.as_of)
        publish = not f.will_fill and year.start <= cmd.as_of <= year.end
        row = {**asdict(f), "forecast_id": fid, "programme_year": year.year, "published": publish}
        claimed = await repository.claim_forecast(conn, row)
        if claimed and publish:
            payload = QuotaShortfallForecast(
                forecast_id=fid,
                funding_source=source.code,
                funding_source_name=source.name,
                programme_year=year.year,
                as_of=cmd.as_of,
                quota=f.quota,
                enrolled=min(f.enrolled, f.quota),
                forecast_enrolled=f.forecast_enrolled,
                seats_left=f.seats_left,
                unspent_rupiah=f.unspent_rupiah,
                under_represented=c["under"],
                desa=desa,
            )
            events.append(
                new_envelope(payload, producer="reporting", person_key=f"source:{source.code}", correlation_id=fid)
            )
        answers.append(
            {"funding_source": source.code, "seats_left": f.seats_left, "unspent_rupiah": f.unspent_rupiah,
             "recorded": claimed, "published": claimed and publish}
        )  # fmt: skip
    return Handled(answers, events)


async def step(deps: Deps) -> Next:
    """One round of the daily job: once the local time passes ``forecast_time``, today's forecast (once)."""
    now = datetime.now(UTC).astimezone(WITA)
    if now.time() >= deps.settings.forecast_time:
        answers = await messaging.run(deps, run_forecast, RunForecast(as_of=now.date()))
        published = [a["funding_source"] for a in answers if a["published"]]
        if published:
            log.info("shortfall forecast published", sources=published, as_of=now.date().isoformat())
    return Next.WAIT


# ------------------------------------------------------------------------------------------------ population


async def load_population(_deps: Deps, conn: Conn, cmd: LoadPopulation) -> Handled[int]:
    return Handled(await repository.replace_population(conn, cmd.rows))


# ------------------------------------------------------------------------------------------------ objections


async def objections_report(deps: Deps, conn: Conn, query: ObjectionsQuery) -> Handled[Report]:
    return Handled(await objection_counts(deps, conn, query))


async def objection_counts(deps: Deps, conn: Conn, query: ObjectionsQuery) -> Report:
    """Objections by reason x state x age bucket, and the overdue ones (due_by passed, undecided) per desa."""
    rows = await repository.objection_rows(conn, query.area)
    counts: Counter[tuple[str, str, str]] = Counter()
    overdue: Counter[str] = Counter()
    for r in rows:
        age = objections.age_days(r["filed_at"], r["decided_at"], query.today)
        counts[(r["reason_code"], r["state"], objections.age_bucket(age))] += 1
        if objections.overdue(r["state"], r["due_by"], query.today):
            overdue[r["desa_code"]] += 1
    return {
        "total": len(rows),
        "by_state": {s: sum(n for (_, st, _), n in counts.items() if st == s) for s in objections.STATES},
        "by_age": {b: sum(n for (_, _, bk), n in counts.items() if bk == b) for b in objections.AGE_BUCKETS},
        "rows": [
            {
                "reason": reason,
                "label": labels.objection_reason(reason, query.lang),
                "state": state,
                "age": bucket,
                "count": n,
            }
            for (reason, state, bucket), n in sorted(counts.items())
        ],
        "overdue_total": sum(overdue.values()),
        "overdue_by_desa": [
            {"code": code, "name": region_name(deps.regions, code), "count": n}
            for code, n in sorted(overdue.items(), key=lambda item: (-item[1], item[0]))
        ],
    }
