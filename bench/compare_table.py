"""The pure half of ``bench.compare``: which ``bench.run`` options a side understands, and the before/after table.

Nothing here runs a process or reads a file: the orchestration (checkouts, the two runs, the load averages) is in
bench/compare.py, and tests/unit/test_bench_compare.py covers this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# bench.compare stops each side itself before the next starts: a side asked to keep its stack would hold the ports
ALWAYS_DROPPED = frozenset({"--keep-running"})

Result = dict[str, Any]
Extract = Callable[[Result], float | None]


def options_in_help(help_text: str) -> set[str]:
    """The long options a ``--help`` output names (``--nominations``, ``--skip-baseline``, ...)."""
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text))


def split_options(argv: list[str]) -> list[list[str]]:
    """``bench.run`` arguments grouped per option: ``["--a", "1", "--b"]`` -> ``[["--a", "1"], ["--b"]]``.

    A value belongs to the option before it; ``--a=1`` stays one group. Anything before the first option is refused
    (bench.run takes no positional arguments)."""
    groups: list[list[str]] = []
    for token in argv:
        if token.startswith("--"):
            groups.append([token])
        elif groups:
            groups[-1].append(token)
        else:
            raise ValueError(f"bench.run takes options only, not {token!r}")
    return groups


def filter_options(argv: list[str], known: set[str]) -> tuple[list[str], list[str]]:
    """(arguments to pass, options dropped): every option in ``known`` passes with its values, the rest are dropped,
    and so is ``--keep-running`` whatever a side knows (each side is stopped before the next starts)."""
    kept: list[str] = []
    dropped: list[str] = []
    for group in split_options(argv):
        name = group[0].split("=", 1)[0]
        if name in known and name not in ALWAYS_DROPPED:
            kept.extend(group)
        else:
            dropped.append(name)
    return kept, dropped


# --------------------------------------------------------------------------------------------------- the table
def dig(result: Result, *path: str) -> float | None:
    """The number at ``path`` in a results JSON, or None where a side's JSON lacks it (an older bench.run)."""
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def hop_multiple(result: Result) -> float | None:
    """CPU per nomination as a multiple of the in-run baseline hop's CPU per record (the issue's "25 times")."""
    per_nomination = dig(result, "throughput", "stack_cpu_ms_per_nomination")
    per_record = dig(result, "baseline", "hop_cpu_ms_per_record")
    if per_nomination is None or not per_record:
        return None
    return per_nomination / per_record


def ratio(before: float | None, after: float | None) -> float | None:
    """after / before, or None when either is missing or before is zero."""
    if before is None or after is None or before == 0:
        return None
    return after / before


def _path(*keys: str) -> Extract:
    return lambda result: dig(result, *keys)


ROWS: list[tuple[str, Extract]] = [
    ("told, end to end (count)", _path("throughput", "told")),
    ("told, end to end (seconds)", _path("throughput", "end_to_end_seconds")),
    ("told, end to end (/s)", _path("throughput", "per_s")),
    ("CPU per nomination, all processes (ms)", _path("throughput", "stack_cpu_ms_per_nomination")),
    ("baseline hop CPU per record (ms)", _path("baseline", "hop_cpu_ms_per_record")),
    ("CPU per nomination / baseline hop", hop_multiple),
    ("single-POST capacity (/s)", _path("http_capacity", "per_s")),
    ("single-POST CPU per nomination (ms)", _path("latency", "stack_cpu_ms_per_nomination")),
    ("latency p50 (s)", _path("latency", "seconds", "p50")),
    ("latency p95 (s)", _path("latency", "seconds", "p95")),
    ("latency p99 (s)", _path("latency", "seconds", "p99")),
]


def processes(*results: Result) -> list[str]:
    """Every process either side measured (services and their replicas, PostgreSQL, Kafka), sorted."""
    names: set[str] = set()
    for result in results:
        resources = result.get("resources")
        if isinstance(resources, dict):
            names.update(resources)
    return sorted(names)


def rows(before: Result, after: Result) -> list[tuple[str, float | None, float | None]]:
    """(label, before, after) for every row of the table, CPU seconds per process last."""
    out = [(label, extract(before), extract(after)) for label, extract in ROWS]
    for name in processes(before, after):
        cpu = _path("resources", name, "cpu_seconds")
        out.append((f"CPU seconds: {name}", cpu(before), cpu(after)))
    return out


def fmt(value: float | None, digits: int = 3) -> str:
    """A cell: "n/a" for a missing figure, integers without decimals, others to ``digits`` significant digits."""
    if value is None:
        return "n/a"
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


Loads = tuple[tuple[float, ...], tuple[float, ...]]  # a side's load average (1/5/15 min) at its start and its end


def load_rows(before: Loads | None, after: Loads | None) -> list[tuple[str, float | None, float | None]]:
    """The 1-minute load average at each side's start and end, so that a pasted table says how busy the machine was."""
    out = []
    for i, when in enumerate(("start", "end")):
        b = before[i][0] if before and before[i] else None
        a = after[i][0] if after and after[i] else None
        out.append((f"load average, 1 min, at the side's {when}", b, a))
    return out


def markdown(
    before: Result,
    after: Result,
    before_label: str = "before",
    after_label: str = "after",
    loads: tuple[Loads | None, Loads | None] | None = None,
) -> str:
    """ONE Markdown table: a row per measure, columns before, after and after/before (with ``loads``, the sides'
    load averages last)."""
    lines = [f"| | {before_label} | {after_label} | after/before |", "|---|---|---|---|"]
    table = rows(before, after) + (load_rows(*loads) if loads else [])
    for label, b, a in table:
        r = ratio(b, a)
        lines.append(f"| {label} | {fmt(b)} | {fmt(a)} | {'n/a' if r is None else f'{r:.2f}'} |")
    return "\n".join(lines)


def loadavg_line(side: str, when: str, load: Iterable[float]) -> str:
    """``load average before the after side: 1.41 1.87 2.56 (1/5/15 min)``."""
    return f"load average {when} the {side} side: {' '.join(f'{x:.2f}' for x in load)} (1/5/15 min)"
