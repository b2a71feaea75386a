"""Sampling profiles of the running services (py-spy), taken during the benchmark's throughput phase.

``python -m bench.run --profile`` attaches ``py-spy record`` to every service process (non-blocking, 20 samples
a second, idle frames excluded), stops it when the phase ends and keeps, per service, the collapsed stacks
(``<service>.folded``: open with speedscope or flamegraph.pl) and a text summary of where the CPU went
(``<service>.txt``): the functions with the most samples on CPU, by self time and by inclusive time, folded to
``module:function`` so that the eye finds the project's own code.
"""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_PROJECT = ("services.", "shared.", "bench.", "deploy.")
_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]+?):\d+\)$")


@dataclass
class Profiler:
    out_dir: Path
    procs: dict[str, subprocess.Popen[bytes]]

    @classmethod
    def attach(cls, pids: dict[str, int], out_dir: Path, rate: int = 20) -> Profiler:
        # the venv's own first: `.venv/bin/python -m bench.run` does not put .venv/bin on PATH
        exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
        if exe is None:
            raise SystemExit("--profile needs py-spy (a dev dependency: ./payung installs it)")
        out_dir.mkdir(parents=True, exist_ok=True)
        procs = {
            name: subprocess.Popen(  # noqa: S603 (the pinned py-spy, our own pids)
                [
                    exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(rate),
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(out_dir / f"{name}.folded"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, pid in pids.items()
        }
        return cls(out_dir, procs)

    def stop(self, top: int = 25) -> dict[str, Path]:
        """Stop sampling; write and return each service's summary."""
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        summaries = {}
        for name, proc in self.procs.items():
            proc.wait(timeout=60)
            folded = self.out_dir / f"{name}.folded"
            if folded.exists():
                summaries[name] = self.out_dir / f"{name}.txt"
                summaries[name].write_text(summarise(folded.read_text(), top))
        return summaries


def _label(frame: str) -> str:
    """``handle (services/nomination/handlers.py:42)`` -> ``services.nomination.handlers:handle``."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "/work/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    module = path.removesuffix(".py").replace("/", ".").lstrip(".")
    return f"{module}:{match['func']}"


def summarise(folded: str, top: int = 25) -> str:
    """Self and inclusive sample counts per ``module:function`` from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()  # self time charged to the nearest project frame
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_label(f) for f in stack.split(";") if f.strip()]
        # the thread name py-spy puts first is not a frame
        frames = [f for f in frames if ":" in f]
        if not frames:
            continue
        own[frames[-1]] += n
        for label in set(frames):
            inclusive[label] += n
        nearest = next((f for f in reversed(frames) if f.startswith(_PROJECT)), None)
        if nearest is not None:
            ours[f"{nearest} -> {frames[-1]}" if nearest != frames[-1] else nearest] += n
    if not total:
        return "no samples\n"

    def table(title: str, counter: collections.Counter[str]) -> list[str]:
        rows = [f"{title} (of {total} samples on CPU)"]
        rows += [f"{100 * n / total:6.1f} %  {label}" for label, n in counter.most_common(top)]
        return rows

    project = collections.Counter({k: v for k, v in inclusive.items() if k.startswith(_PROJECT)})
    return (
        "\n".join(
            [
                *table("self", own),
                "",
                *table("inclusive, project code", project),
                "",
                *table("self, by the nearest project frame -> the function on CPU", ours),
            ]
        )
        + "\n"
    )
