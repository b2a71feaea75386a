"""bench.reads' pure parts: the latency figures, the size per 100,000, and the synthetic rows of the fill, which must
be rows the nomination and reporting services could have written themselves."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson
import pytest

from bench import reads
from bench.reads_fill import (
    ACCEPTED_FATE,
    HISTORY_COLUMNS,
    NOMINATION_COLUMNS,
    REPORT_COLUMNS,
    Filler,
    PoolItem,
    fate,
    make_pool,
)
from services.nomination.handlers.progress import _KEPT
from services.nomination.repository.nominations import _progress_from_json
from shared.keys import person_key
from shared.regions import default_regions

SECRET = "unit-reads-secret"


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> list[PoolItem]:
    return make_pool(400, Path(tmp_path_factory.mktemp("reads")))


def test_latency_summary_is_in_milliseconds_with_inclusive_quantiles() -> None:
    summary = reads.latency_summary([i / 1000 for i in range(1, 101)])
    assert summary == {"n": 100, "p50": 50.5, "p95": 95.05, "p99": 99.01, "max": 100.0}
    assert reads.latency_summary([0.25]) == {"n": 1, "max": 250.0}
    assert reads.latency_summary([]) == {"n": 0}


def test_size_per_100k_nominations() -> None:
    assert reads.per_100k(50 * 2**20, 500_000) == 10.0
    assert reads.per_100k(3 * 2**20, 0) > 0  # an empty database still has a size; no division by zero


def test_fate_keeps_the_generators_rejections_and_spreads_the_accepted() -> None:
    rng = random.Random(1)
    assert fate("rejected:DECEASED", rng) == "rejected"
    drawn = Counter(fate("accepted", rng) for _ in range(20_000))
    assert set(drawn) == {name for name, _ in ACCEPTED_FATE}
    for name, share in ACCEPTED_FATE:
        assert abs(drawn[name] / 20_000 - share) < 0.02


def test_the_pool_holds_only_what_the_service_stores(pool: list[PoolItem]) -> None:
    assert pool
    assert {p.expected.split(":")[0] for p in pool} <= {"accepted", "rejected"}
    kutai_timur = {d.code for k in default_regions().children("64.08") for d in default_regions().children(k.code)}
    assert {p.request["address"]["desa_code"] for p in pool} <= kutai_timur
    assert all(p.request["phone"].startswith("+62") for p in pool)  # normalised as the API stores it


def test_every_nik_and_person_key_is_new() -> None:
    filler = Filler(SECRET)
    niks = [filler.nik("6408034107870001") for _ in range(12_000)]
    assert len(set(niks)) == len(niks)
    assert all(len(n) == 16 and n.isdigit() and n.startswith("640803") for n in niks)
    assert niks[0].startswith("640803410787")


def test_rows_agree_with_the_services_own_folds(pool: list[PoolItem]) -> None:
    filler = Filler(SECRET, seed=9)
    rows = [filler.row(pool[i % len(pool)]) for i in range(2000)]
    statuses = Counter()
    for r in rows:
        nomination = dict(zip(NOMINATION_COLUMNS, r.nomination, strict=True))
        report = dict(zip(REPORT_COLUMNS, r.report, strict=True))
        assert nomination["person_key"] == person_key(nomination["nik"], SECRET)
        progress = _progress_from_json(orjson.loads(nomination["progress"]))
        assert progress.status == nomination["status"] and progress.outcome == nomination["outcome"]
        assert report["nomination_id"] == nomination["id"] and report["desa_code"] == nomination["desa_code"]
        assert report["kecamatan_code"] == nomination["desa_code"].rsplit(".", 1)[0]
        expected_report = {None: {"verified", "in_review"}, "rejected": {"rejected"}}.get(
            nomination["outcome"], {nomination["outcome"]}
        )
        assert report["status"] in expected_report
        history = [dict(zip(HISTORY_COLUMNS, h, strict=True)) for h in r.history]
        assert all(set(orjson.loads(h["detail"])) <= set(_KEPT) for h in history)
        times = [h["occurred_at"] for h in history]
        assert times == sorted(times) and all(t > nomination["submitted_at"] for t in times)
        assert nomination["updated_at"] == (times[-1] if times else nomination["submitted_at"])
        statuses[report["status"]] += 1
    assert {"enrolled", "waitlisted", "rejected"} <= set(statuses)


def test_markdown_table_lists_endpoints_rows_and_sizes() -> None:
    endpoint = {"requests": 10, "concurrency": 2, "statuses": {200: 10}, "loadavg": (1.0, 2.0, 3.0)}
    result = {
        "get_nomination": {**endpoint, "ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0}},
        "rows": {"nominations": 1000},
        "db_bytes": {"nomination": 2**20},
        "db_mb_per_100k": {"nomination": 100.0},
    }
    table = reads.markdown(result)
    assert "| GET /v1/nominations/{id} | 10 (2) | 1.0 | 2.0 | 3.0 | 4.0 | {200: 10} | 1.0, 2.0, 3.0 |" in table
    assert "| | 1,000 |" in table
    assert "| nomination | 1.0 | 100.0 |" in table
