"""One running pipeline per test session (four service processes), fed from the synthetic generator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.pipeline import Pipeline, build_pipeline, start_all
from tests.infra import Infra, unique_prefix
from tools.synthetic import Nomination, generate_nominations, generate_registry, programme_today, write_registry

REGENCY = "64.08"
# Small quotas so that a session fills them and waitlists the rest; the tests check the exact figures.
FUNDING_SOURCES = [
    {"code": "APBD-KAB", "name": "APBD Kabupaten Kutai Timur", "quota": 120, "priority": 1, "premium_idr": 16800},
    {"code": "APBD-PROV", "name": "APBD Provinsi Kalimantan Timur", "quota": 30, "priority": 2, "premium_idr": 16800},
]
QUOTA_TOTAL = sum(s["quota"] for s in FUNDING_SOURCES)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def registry_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("registry") / "registry.csv"
    write_registry(generate_registry(4000, seed=2026, regency=REGENCY, reference_date=programme_today()), path)
    return path


@pytest.fixture(scope="session")
def nominations(registry_csv: Path) -> list[Nomination]:
    return list(generate_nominations(registry_csv, 900, seed=21, regency=REGENCY, reference_date=programme_today()))


class Pool:
    """Hands out generated nominations so that no two tests use the same person."""

    def __init__(self, items: list[Nomination]) -> None:
        self._items = list(items)
        self._taken: set[str] = set()

    def take(
        self,
        expected: str,
        count: int = 1,
        fault: str | None = None,
        where: Callable[[Nomination], bool] | None = None,
    ) -> list[Nomination]:
        """The next ``count`` unused nominations of ``expected`` (and ``fault``) for which ``where`` holds; only
        those returned are used up."""
        out = []
        for item in self._items:
            nik = item.request["nik"]
            if (
                item.expected == expected
                and (fault is None or item.fault == fault)
                and nik not in self._taken
                and (where is None or where(item))
            ):
                out.append(item)
                self._taken.add(nik)
                if len(out) == count:
                    return out
        raise AssertionError(f"the generated file has too few {expected!r} nominations left")

    def take_mix(self, count: int) -> list[Nomination]:
        """The next ``count`` nominations in file order, whatever their expected outcome (duplicates included)."""
        out = []
        for item in self._items:
            nik = item.request["nik"]
            if nik in self._taken and item.expected != "duplicate":
                continue
            if item.expected == "duplicate" and not any(o.request["nik"] == nik for o in out):
                continue  # a duplicate only makes sense right after its original
            out.append(item)
            self._taken.add(nik)
            if len(out) == count:
                break
        return out


@pytest.fixture(scope="session")
def people(nominations: list[Nomination]) -> Pool:
    return Pool(nominations)


@pytest.fixture(scope="session")
async def pipeline(
    infra: Infra, create_database, tmp_path_factory: pytest.TempPathFactory, registry_csv: Path
) -> AsyncIterator[Pipeline]:
    workdir = tmp_path_factory.mktemp("pipeline")
    built = await build_pipeline(
        infra.kafka_bootstrap, create_database, workdir, unique_prefix("e2e"), registry_csv, FUNDING_SOURCES
    )
    try:
        start_all(built)
        yield built
    finally:
        built.stop_all()
        await built.close()


@pytest.fixture
async def client(pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client with the programme admin's key (the tests submit for every desa)."""
    async with httpx.AsyncClient(timeout=30, headers={"X-API-Key": pipeline.api_keys["admin"]}) as http:
        yield http


@pytest.fixture(autouse=True)
def _show_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "pipeline" in request.fixturenames:
        built: Pipeline = request.getfixturevalue("pipeline")
        for name in ("nomination", "verification", "enrolment", "notification"):
            print(f"----- {name} log (tail) -----\n{built.log(name)[-4000:]}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
