"""bench.compare's pure parts: which options reach a side, the ratio maths and the before/after table."""

from __future__ import annotations

import pytest

from bench import compare, compare_table

HELP = """usage: python -m bench.run [-h] [--nominations NOMINATIONS] [--rate RATE]
options:
  -h, --help            show this help message and exit
  --nominations NOMINATIONS
                        throughput phase size
  --http-probe HTTP_PROBE
                        single POSTs to measure HTTP capacity (0: no)
  --skip-baseline
  --keep-running        leave the instance running afterwards (default: stopped)
"""


def side(per_s: float, cpu: float, hop: float, **extra: object) -> dict[str, object]:
    result: dict[str, object] = {
        "throughput": {"told": 1900, "end_to_end_seconds": 10.0, "per_s": per_s, "stack_cpu_ms_per_nomination": cpu},
        "baseline": {"hop_cpu_ms_per_record": hop},
        "http_capacity": {"per_s": 80.0},
        "latency": {"stack_cpu_ms_per_nomination": 20.0, "seconds": {"p50": 1.0, "p95": 1.5, "p99": 2.0}},
        "resources": {"nomination": {"cpu_seconds": 30.0}, "postgres": {"cpu_seconds": 40.0}},
    }
    result.update(extra)
    return result


def test_the_options_a_help_text_names():
    assert compare_table.options_in_help(HELP) == {
        "--help",
        "--nominations",
        "--rate",
        "--http-probe",
        "--skip-baseline",
        "--keep-running",
    }


def test_options_are_grouped_with_their_values():
    argv = ["--nominations", "2000", "--skip-baseline", "--rate=50", "--people", "20000"]
    assert compare_table.split_options(argv) == [
        ["--nominations", "2000"],
        ["--skip-baseline"],
        ["--rate=50"],
        ["--people", "20000"],
    ]
    with pytest.raises(ValueError, match="options only"):
        compare_table.split_options(["2000", "--nominations"])


def test_only_options_every_side_knows_are_passed_and_never_keep_running():
    known = compare_table.options_in_help(HELP)
    argv = ["--nominations", "2000", "--replicas", "verification=2", "--keep-running", "--http-probe=200"]
    kept, dropped = compare_table.filter_options(argv, known)
    assert kept == ["--nominations", "2000", "--http-probe=200"]
    assert dropped == ["--replicas", "--keep-running"]


def test_compare_options_are_its_own_and_the_rest_goes_to_bench_run():
    args, rest = compare.parse_args(["--sides", "after", "--nominations", "2000", "--skip-baseline"])
    assert (args.before, args.after, args.sides) == (compare.DEFAULT_BEFORE, compare.WORKTREE, "after")
    assert rest == ["--nominations", "2000", "--skip-baseline"]
    with pytest.raises(SystemExit):
        compare.parse_args(["--sides", "neither"])


def test_ratio_and_hop_multiple():
    assert compare_table.ratio(2.0, 1.0) == 0.5
    assert compare_table.ratio(None, 1.0) is None
    assert compare_table.ratio(0.0, 1.0) is None
    assert compare_table.hop_multiple(side(300.0, 6.0, 0.12)) == pytest.approx(50.0)
    assert compare_table.hop_multiple({"throughput": {"stack_cpu_ms_per_nomination": 6.0}}) is None


def test_a_missing_or_non_numeric_field_is_none():
    result = {"latency": {"seconds": {}}, "http_capacity": {"per_s": True}, "throughput": "broken"}
    assert compare_table.dig(result, "latency", "seconds", "p50") is None
    assert compare_table.dig(result, "http_capacity", "per_s") is None
    assert compare_table.dig(result, "throughput", "per_s") is None


def test_cells_are_formatted_compactly():
    assert compare_table.fmt(None) == "n/a"
    assert compare_table.fmt(18985.0) == "18,985"
    assert compare_table.fmt(6.674) == "6.67"
    assert compare_table.fmt(0.105) == "0.105"
    assert compare_table.fmt(288.7) == "289"
    assert compare_table.fmt(1234.5) == "1,234"


def test_one_table_with_every_row_and_the_ratio_column():
    before = side(300.0, 6.0, 0.12)
    after = side(600.0, 3.0, 0.12, resources={"nomination": {"cpu_seconds": 15.0}, "kafka": {"cpu_seconds": 9.0}})
    lines = compare_table.markdown(before, after, "before (cf0b427)", "after (abc1234)").splitlines()
    assert lines[0] == "| | before (cf0b427) | after (abc1234) | after/before |"
    body = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[1:] for line in lines[2:]}
    assert body["told, end to end (/s)"] == ["300", "600", "2.00 |"]
    assert body["CPU per nomination, all processes (ms)"] == ["6", "3", "0.50 |"]
    assert body["CPU per nomination / baseline hop"] == ["50", "25", "0.50 |"]
    assert body["latency p99 (s)"] == ["2", "2", "1.00 |"]
    # a process only one side measured shows n/a on the other
    assert body["CPU seconds: kafka"] == ["n/a", "9", "n/a |"]
    assert body["CPU seconds: postgres"] == ["40", "n/a", "n/a |"]
    assert body["CPU seconds: nomination"] == ["30", "15", "0.50 |"]
    assert len(lines) == 2 + len(compare_table.ROWS) + 3


def test_a_side_that_did_not_run_is_all_na():
    table = compare_table.markdown({}, side(600.0, 3.0, 0.12))
    assert "| told, end to end (/s) | n/a | 600 | n/a |" in table.splitlines()


def test_load_average_line():
    line = compare_table.loadavg_line("after", "before", (1.409, 1.87, 2.5))
    assert line == "load average before the after side: 1.41 1.87 2.50 (1/5/15 min)"


def test_the_load_averages_close_the_table_when_given():
    loads = (((7.52, 6.3, 4.0), (11.66, 8.9, 5.5)), None)
    lines = compare_table.markdown({}, {}, loads=loads).splitlines()
    assert lines[-2:] == [
        "| load average, 1 min, at the side's start | 7.52 | n/a | n/a |",
        "| load average, 1 min, at the side's end | 11.7 | n/a | n/a |",
    ]
    assert len(compare_table.markdown({}, {}).splitlines()) == len(lines) - 2
