"""The regency's kecamatan as an inline SVG map, drawn on the server from a public boundary dataset.

Boundaries: shared/data/kecamatan-kaltim.geojson (cahyadsn/wilayah_boundaries, MIT; see shared/data/README.md),
read by adapters/boundaries.py; this module only projects and colours them.
Longitude and latitude are projected equirectangularly with the x axis scaled by cos(latitude) at the regency's
middle: at the equator (Kutai Timur spans 0°-2° N) that is as faithful as any projection at dashboard size. No tile
server, no JavaScript: the page renders the same offline and in print.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Coverage of the kecamatan's target, light to dark green: the class limits and colours of the legend.
STEPS = (0.0, 0.1, 0.25, 0.5, 0.75)
COLOURS = ("#eef6f0", "#c7e7d2", "#8fcfa6", "#4fa874", "#1b7f4b")
NO_DATA = "#e7eaee"


@dataclass(frozen=True)
class Shape:
    code: str
    name: str
    path: str  # SVG path data in map units
    label_x: float
    label_y: float


@dataclass(frozen=True)
class MapShape:
    code: str
    name: str
    path: str
    label_x: float
    label_y: float
    fill: str
    share: float | None  # covered / target; None: outside the viewer's area
    covered: int
    target: int


def _rings(geometry: Mapping[str, Any]) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


# The projected map: (shapes, width, height) in map units.
Frame = tuple[tuple[Shape, ...], int, int]


def shapes(features: Sequence[Mapping[str, Any]], width: int = 520) -> Frame:
    """GeoJSON features (a regency's kecamatan) as paths fitted to ``width``; (shapes, w, h)."""
    points = [p for f in features for ring in _rings(f["geometry"]) for p in ring]
    if not points:
        return (), width, 0
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    scale = width / ((lon1 - lon0) * kx)
    height = math.ceil((lat1 - lat0) * scale)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return (lon - lon0) * kx * scale, (lat1 - lat) * scale

    out = []
    for f in sorted(features, key=lambda f: f["properties"]["kode"]):
        parts = []
        for ring in _rings(f["geometry"]):
            coords = [xy(lon, lat) for lon, lat, *_ in ring]
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + " Z")
        cx, cy = xy(*f["properties"]["centroid"])
        out.append(Shape(f["properties"]["kode"], f["properties"]["nama"], " ".join(parts), cx, cy))
    return tuple(out), width, height


def colour(share: float) -> str:
    index = max(i for i, limit in enumerate(STEPS) if share >= limit)
    return COLOURS[index]


def coverage_map(frame: Frame, rows: list[dict[str, Any]]) -> tuple[list[MapShape], int, int]:
    """Shapes coloured by covered/target of ``rows`` (``code``, ``covered``, ``target``); a kecamatan without a row
    (outside a nominator's area) is grey."""
    by_code = {r["code"]: r for r in rows}
    found, width, height = frame
    out = []
    for s in found:
        row = by_code.get(s.code)
        if row is None:
            out.append(MapShape(s.code, s.name, s.path, s.label_x, s.label_y, NO_DATA, None, 0, 0))
            continue
        target = int(row.get("target") or 0)
        share = row["covered"] / target if target else 0.0
        out.append(MapShape(s.code, s.name, s.path, s.label_x, s.label_y, colour(share), share, row["covered"], target))
    return out, width, height
