"""Before and after on the same machine: ``python -m bench.compare [--before REF] [--after REF|worktree]
[--sides both|before|after] [bench.run options...]`` (docs/PERFORMANCE.md, "Side by side").

Machines differ (the same code gave 2.5 and 6.5 ms of CPU per nomination on two machines in one month), so a claim
is a pair measured back to back. The before side is a second checkout of REF (``git worktree add --detach`` under
``<stack dir>/checkouts/<sha>``, reused when it exists; its .venv made by that commit's own ``./payung --help``), the
after side is this tree (or another checkout). Each side runs its own ``bench.run`` with the same options, in-run
baseline hop included, on its own stack dir (``<stack dir>/compare-before``, ``compare-after``) and the same
``PAYUNG_*`` ports, and is stopped (``./payung down`` of that side) before the next starts. Options a side's
``bench.run --help`` does not name are passed to neither side (and ``--keep-running`` never): printed and recorded.

Prints the load average before and after each side and ONE Markdown table (before, after, after/before); writes both
sides' results, the load averages and both commits to ``bench/results/<ts>-compare-<before sha>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import compare_table
from bench.run import RESULTS, BenchStackConfig
from deploy.native.config import REPO_ROOT

DEFAULT_BEFORE = "cf0b427"  # issue 17's "today's code"
WORKTREE = "worktree"
ORDER = ("before", "after")


@dataclass
class Side:
    """One side of the comparison: where its code is and what its run gave."""

    name: str
    ref: str
    commit: str
    root: Path
    stack_dir: Path
    loadavg_before: tuple[float, ...] = ()
    loadavg_after: tuple[float, ...] = ()
    returncode: int | None = None
    results_file: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.commit[:7]}{'+dirty' if self.commit.endswith('+dirty') else ''})"

    def record(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "root": str(self.root),
            "stack_dir": str(self.stack_dir),
            "loadavg_before": list(self.loadavg_before),
            "loadavg_after": list(self.loadavg_after),
            "returncode": self.returncode,
            "results_file": self.results_file,
            "result": self.result,
        }


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """bench.compare's own options, and the rest (for bench.run) in the order given."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Every other option goes to both sides' bench.run (python -m bench.run --help).",
        allow_abbrev=False,  # a bench.run option must never be taken for an abbreviation of ours
    )
    parser.add_argument("--before", default=DEFAULT_BEFORE, help=f"the before side's commit (default {DEFAULT_BEFORE})")
    parser.add_argument(
        "--after", default=WORKTREE, help="commit of the after side, or 'worktree' (default: this tree as it is)"
    )
    parser.add_argument("--sides", choices=("both", *ORDER), default="both", help="run both sides or only one")
    args, rest = parser.parse_known_args(argv)
    compare_table.split_options(rest)  # refuses a stray positional argument before anything starts
    return args, rest


def git(*args: str, cwd: Path = REPO_ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)  # noqa: S603, S607
    return done.stdout.strip()


def resolve(ref: str) -> str:
    """The full commit id of ``ref``; a typo fails here, before any stack starts."""
    try:
        return git("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"bench.compare: {ref!r} names no commit in {REPO_ROOT}") from None


def ensure_checkout(commit: str, checkouts: Path) -> Path:
    """A detached worktree of ``commit`` under ``checkouts`` (reused when it holds that commit), its .venv synced by
    that commit's own ``./payung --help`` (which installs from that commit's lock)."""
    path = checkouts / commit
    try:
        reuse = (path / ".git").exists() and git("rev-parse", "HEAD", cwd=path) == commit
    except subprocess.CalledProcessError:  # a checkout whose worktree entry is gone
        reuse = False
    if not reuse:
        if path.exists():  # a half-made or moved checkout: start it again
            shutil.rmtree(path)
        git("worktree", "prune")
        checkouts.mkdir(parents=True, exist_ok=True)
        print(f"==> git worktree add --detach {path} {commit[:7]}", flush=True)
        git("worktree", "add", "--detach", str(path), commit)
    else:
        print(f"==> reusing the checkout {path}", flush=True)
    subprocess.run([str(path / "payung"), "--help"], cwd=path, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
    return path


def make_side(name: str, ref: str, stack_root: Path) -> Side:
    """Resolve a side: ``worktree`` is this tree as it is (its commit marked ``+dirty`` with uncommitted changes)."""
    if name == "after" and ref == WORKTREE:
        commit = git("rev-parse", "HEAD")
        if git("status", "--porcelain", "--untracked-files=no"):
            commit += "+dirty"
        return Side(name, ref, commit, REPO_ROOT, stack_root / f"compare-{name}")
    commit = resolve(ref)
    return Side(name, ref, commit, ensure_checkout(commit, stack_root / "checkouts"), stack_root / f"compare-{name}")


def known_options(side: Side) -> set[str]:
    """The options this side's bench.run names in its ``--help``."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
        [str(side.python), "-m", "bench.run", "--help"], cwd=side.root, check=True, capture_output=True, text=True
    )
    return compare_table.options_in_help(done.stdout)


def side_env(side: Side) -> dict[str, str]:
    """The caller's environment (its ``PAYUNG_*`` ports: the same for both sides) with this side's stack dir."""
    return {**os.environ, "PAYUNG_STACK_DIR": str(side.stack_dir), "PYTHONUNBUFFERED": "1"}


def run_side(side: Side, bench_args: list[str]) -> None:
    """bench.run of this side, its output shown as it comes, then its stack stopped (an older bench.run leaves it
    running), whatever happened."""
    side.loadavg_before = os.getloadavg()
    print(f"\n==> {side.label}: bench.run {' '.join(bench_args)}", flush=True)
    print(compare_table.loadavg_line(side.name, "before", side.loadavg_before), flush=True)
    env = side_env(side)
    try:
        with subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [str(side.python), "-m", "bench.run", *bench_args],
            cwd=side.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as proc:
            assert proc.stdout is not None  # stdout=PIPE
            for line in proc.stdout:
                sys.stdout.write(f"  [{side.name}] {line}")
                if line.startswith("results: "):
                    side.results_file = line.removeprefix("results: ").strip()
            side.returncode = proc.wait()
    finally:
        print(f"==> stopping the {side.name} side's stack ({side.stack_dir})", flush=True)
        down = [str(side.root / "payung"), "down"]
        subprocess.run(down, cwd=side.root, env=env, check=False, stdout=subprocess.DEVNULL)  # noqa: S603
        side.loadavg_after = os.getloadavg()
        print(compare_table.loadavg_line(side.name, "after", side.loadavg_after), flush=True)
    if side.results_file:
        side.result = json.loads((side.root / side.results_file).read_text())


def main(argv: list[str] | None = None) -> None:
    args, rest = parse_args(argv)
    stack_root = BenchStackConfig().stack_dir  # PAYUNG_STACK_DIR, else .stack/bench: the sides' dirs live inside
    before_commit = resolve(args.before)
    names = ORDER if args.sides == "both" else (args.sides,)
    refs = {"before": args.before, "after": args.after}
    sides = {name: make_side(name, refs[name], stack_root) for name in names}

    known = set.intersection(*(known_options(side) for side in sides.values()))
    bench_args, dropped = compare_table.filter_options(rest, known)
    if dropped:
        print(f"==> not passed (not an option of every side's bench.run, or --keep-running): {dropped}", flush=True)

    started = datetime.now(UTC)
    for side in sides.values():
        run_side(side, bench_args)

    b, a = sides.get("before"), sides.get("after")
    table = compare_table.markdown(
        b.result if b else {},
        a.result if a else {},
        b.label if b else "before",
        a.label if a else "after",
        loads=((b.loadavg_before, b.loadavg_after) if b else None, (a.loadavg_before, a.loadavg_after) if a else None),
    )
    combined = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "bench_run_args": bench_args,
        "dropped_options": dropped,
        "before_commit": before_commit,
        **{name: side.record() for name, side in sides.items()},
        "table": table,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{started:%Y%m%dT%H%M%SZ}-compare-{before_commit[:7]}.json"
    out.write_text(json.dumps(combined, indent=2, default=str))
    print(f"\nresults: {out.relative_to(REPO_ROOT)}")
    for side in sides.values():
        print(
            f"{side.label}: exit {side.returncode}, load average {_load(side.loadavg_before)} before, "
            f"{_load(side.loadavg_after)} after (1/5/15 min)"
        )
    print(table)
    failed = [s.name for s in sides.values() if s.returncode != 0 or not s.result]
    if failed:
        raise SystemExit(f"bench.compare: no results from the {' and '.join(failed)} side (see its output above)")


def _load(load: tuple[float, ...]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


if __name__ == "__main__":
    main()
