"""The forecast of unfilled seats and the objection counts on real PostgreSQL and Kafka.

The read model is seeded through the consumer's own handler (``handlers.apply_events``): a slow source that will not
fill, a full one, objections of several ages. The service then runs as wired (its forecast job every 0.2 s): the
shortfall must reach Kafka exactly once for the day, however many rounds the job makes and though the on-demand
command runs too; the dashboard and the JSON API must show the figures.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from services.reporting import handlers
from services.reporting.app import SPEC
from services.reporting.commands import LoadPopulation, RunForecast
from services.reporting.handlers import outreach
from services.reporting.settings import FundingSource, ReportingSettings
from shared import db, messaging, topics
from shared.contracts import Envelope, Nominator, ObjectionFiled, ObjectionReviewed, QuotaShortfallForecast, decode
from shared.contracts import new_envelope as make_envelope
from shared.service import create_app
from tests import reporting_events as ev
from tests.integration.test_cli_dlq import records_on
from tests.reporting_events import auditor, reporting_deps
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

DESA_A, DESA_B, DESA_C = "64.08.01.2001", "64.08.01.2002", "64.08.01.2003"  # desa of the region list
NOMINATOR = Nominator(type="desa", name="Kepala Desa", region_code=DESA_A)


def objection(desa: str, filed_days_ago: int, state: str | None, reason: str = "data_corrected") -> list[Any]:
    """An objection filed ``filed_days_ago`` (due 14 days after), and its review when ``state`` is given."""
    oid, now = uuid.uuid4(), datetime.now(UTC)
    filed_at = now - timedelta(days=filed_days_ago)
    common = {"objection_id": oid, "nomination_id": oid, "ground": "rejected", "reason_code": reason,
              "full_name": "Warga", "phone": "+6281234567890", "desa_code": desa, "nominator": NOMINATOR}  # fmt: skip
    filed = ObjectionFiled(
        **common, filed_by="beneficiary", channel="web", filed_at=filed_at, due_by=(filed_at + timedelta(14)).date()
    )
    out: list[Envelope[Any]] = [make_envelope(filed, producer="nomination", person_key="p" * 16, correlation_id=oid)]
    if state:
        review = ObjectionReviewed(**common, state=state, filed_at=filed_at, reviewed_at=now)  # type: ignore[arg-type]
        out.append(make_envelope(review, producer="verification", person_key="p" * 16, correlation_id=oid))
    return out


def history() -> list[Any]:
    """APBD-KAB (quota 1000): one seat a day over the last 40 days; APBD-PROV (quota 30): full."""
    now = datetime.now(UTC)
    out = []
    for i in range(40):
        nid, at = uuid.uuid4(), now - timedelta(days=i, hours=1)
        desa = DESA_A if i % 4 else DESA_B
        out += [ev.submitted(nid, desa, "nelayan", at), ev.confirmed(nid, desa, "APBD-KAB", at)]
    for _ in range(30):
        nid, at = uuid.uuid4(), now - timedelta(days=50)
        out += [ev.submitted(nid, DESA_A, "ojek", at), ev.confirmed(nid, DESA_A, "APBD-PROV", at)]
    return out


async def test_forecast_published_once_a_day_and_shown(infra: Any, create_database: Any, topic_prefix: str) -> None:
    dsn = await create_database("reporting_forecast")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    auth_settings, headers = auditor()
    today = outreach.local_today()
    year = today.year
    settings = ReportingSettings(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=topic_prefix,
        outbox_poll_interval_s=0.2,
        health_cache_s=0,
        programme_year=year,
        programme_year_start_month=today.month,  # the year ahead: eleven whole months after this one
        funding_sources=[
            FundingSource(code="APBD-KAB", name="APBD Kab. Kutai Timur", quota=100_000, premium_idr=16800),
            FundingSource(code="APBD-PROV", name="APBD Prov. Kaltim", quota=30, premium_idr=16800),
        ],
        forecast_time=time(0, 0),
        forecast_poll_interval_s=0.2,
        **auth_settings,
    )
    events = history()
    events = [e.model_copy(update={"payload": e.payload.model_copy(update={"programme_year": year})})
              if hasattr(e.payload, "programme_year") else e for e in events]  # fmt: skip
    events += objection(DESA_A, 40, None) + objection(DESA_A, 20, "in_review") + objection(DESA_B, 3, None)
    events += objection(DESA_B, 35, "upheld", reason="not_duplicate")
    pool = await db.create_pool(dsn, 1, 2)
    try:
        deps = reporting_deps(pool, settings)
        async with pool.acquire() as conn, conn.transaction():
            await handlers.apply_events(deps, conn, events)
        async with pool.acquire() as conn, conn.transaction():  # a redelivered batch changes nothing
            await handlers.apply_events(deps, conn, events[-6:])
        assert await pool.fetchval("SELECT count(*) FROM report_objections") == 4
        population = ((DESA_A, 5000), (DESA_B, 100), (DESA_C, 800))
        assert await messaging.run(deps, outreach.load_population, LoadPopulation(rows=population)) == 3
    finally:
        await pool.close()

    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        rt = app.state.runtime
        (job,) = [j for j in rt.jobs if j.name == "forecast"]

        async def published() -> bool:
            return rt.relay.published >= 1 and job.stats.runs >= 4

        await wait_for(published, "the forecast job's rounds and the shortfall on Kafka", timeout=60)
        again = await messaging.run(rt.deps, outreach.run_forecast, RunForecast(as_of=outreach.local_today()))
        assert [(a["funding_source"], a["recorded"], a["published"]) for a in again] == [
            ("APBD-KAB", False, False), ("APBD-PROV", False, False)
        ]  # fmt: skip
        records = await records_on(infra.kafka_bootstrap, topic_prefix, settings.topic(topics.QUOTA_SHORTFALL_FORECAST))
        assert len(records) == 1, "one forecast event per source and day"
        assert records[0].key == b"source:APBD-KAB"
        forecast: QuotaShortfallForecast = decode(records[0].value, QuotaShortfallForecast).payload
        assert (forecast.funding_source, forecast.quota, forecast.enrolled) == ("APBD-KAB", 100_000, 40)
        assert forecast.forecast_enrolled < 100_000 and forecast.seats_left == 100_000 - forecast.forecast_enrolled
        assert forecast.unspent_rupiah % 16800 == 0 and forecast.unspent_rupiah > 11 * 99_000 * 16800
        # ranked per eligible person: C (0 of 800), A (60 of 5,000: 12 per 1,000), B (10 of 100: 100 per 1,000)
        assert [(d.desa_code, d.nominations, d.eligible_population) for d in forecast.desa[:3]] == [
            (DESA_C, 0, 800), (DESA_A, 60, 5000), (DESA_B, 10, 100)
        ]  # fmt: skip
        assert "nelayan" not in forecast.under_represented and "sopir" in forecast.under_represented
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://reporting", headers=headers
        ) as client:
            page = await client.get("/")
            assert page.status_code == 200
            html = page.text
            assert "Perkiraan anggaran tidak terserap" in html and 'id="forecast"' in html
            rupiah = f"Rp{forecast.unspent_rupiah:,}".replace(",", ".")
            assert rupiah in html, "the unspent rupiah, formatted for id_ID"
            assert 'id="no-population"' not in html
            assert 'id="objections-overdue">2<' in html  # filed 40 and 20 days ago, undecided, due after 14
            body = (await client.get("/v1/reports/objections?lang=en")).json()
            assert body["total"] == 4 and body["overdue_total"] == 2
            assert body["by_state"] == {"received": 2, "in_review": 1, "upheld": 1, "dismissed": 0}
            assert body["by_age"] == {"0-7": 1, "8-14": 0, "15-30": 1, ">30": 2}  # decided at 35 days: aged 35
            assert [(d["code"], d["count"]) for d in body["overdue_by_desa"]] == [(DESA_A, 2)]
            api = (await client.get("/v1/reports/forecast")).json()
            assert {s["funding_source"]: s["seats_left"] for s in api["sources"]}["APBD-PROV"] == 0
            xlsx = await client.get("/dashboard.xlsx")
            assert xlsx.status_code == 200


async def test_the_population_command_loads_a_csv_and_refuses_a_faulty_one_changing_nothing(
    create_database: Any, tmp_path: Any, capsys: Any
) -> None:
    from services.reporting.bootstrap import population_command

    dsn = await create_database("reporting_population")
    await asyncio.to_thread(db.migrate, dsn, SPEC.migrations)
    settings = ReportingSettings(database_url=dsn, kafka_bootstrap="127.0.0.1:1")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(f"desa_code,eligible_population\n{DESA_A},1200\n{DESA_B},800\n")
    bad.write_text(f"desa_code,eligible_population\n{DESA_A},12\n{DESA_A},13\n")
    assert await asyncio.to_thread(population_command, settings, ["load", str(good)]) == 0
    assert await asyncio.to_thread(population_command, settings, ["load", str(bad)]) == 1
    assert "line 3, desa_code: a desa listed twice" in capsys.readouterr().out
    assert await asyncio.to_thread(population_command, settings, ["frob"]) == 2
    pool = await db.create_pool(dsn, 1, 1)
    try:
        rows = await pool.fetch("SELECT desa_code, eligible_population FROM report_population ORDER BY 1")
    finally:
        await pool.close()
    assert [tuple(r) for r in rows] == [(DESA_A, 1200), (DESA_B, 800)]
