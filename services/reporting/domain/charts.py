"""The geometry of the dashboard's charts (polyline points, bar widths), computed on the server so the page needs
no chart library and renders the same in any browser, printed or offline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def rupiah(value: int) -> str:
    """``3024000000`` -> ``Rp3.024.000.000`` (Indonesian thousands separator)."""
    return "Rp" + f"{value:,}".replace(",", ".")


def number(value: int) -> str:
    return f"{value:,}".replace(",", ".")


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    lines: list[tuple[str, str, str]]  # (css class, label, "x,y x,y ...")
    y_max: int
    first_day: str
    last_day: str


def line_chart(
    series: list[dict[str, Any]], keys: list[tuple[str, str]], width: int = 640, height: int = 180
) -> LineChart:
    """Polylines of cumulative counts per day, all on one scale (the largest value)."""
    y_max = max([max((p[k] for p in series), default=0) for k, _ in keys] + [1])
    n = len(series)
    lines = []
    for key, label in keys:
        points = " ".join(
            f"{(i / (n - 1) if n > 1 else 0.5) * width:.1f},{height - p[key] / y_max * height:.1f}"
            for i, p in enumerate(series)
        )
        lines.append((key, label, points))
    first = series[0]["day"] if series else ""
    last = series[-1]["day"] if series else ""
    return LineChart(width, height, lines, y_max, first, last)


def bars(rows: list[dict[str, Any]], value: str, scale_to: int | None = None) -> list[dict[str, Any]]:
    """Each row with ``pct``: its ``value`` as a percentage of ``scale_to`` or of the largest row (0..100)."""
    top = scale_to or max((r[value] for r in rows), default=0)
    return [{**r, "pct": min(100.0, 100.0 * r[value] / top) if top else 0.0} for r in rows]
