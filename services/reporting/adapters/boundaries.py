"""The kecamatan boundaries, read from the bundled GeoJSON file (cahyadsn/wilayah_boundaries, MIT; see
shared/data/README.md). Read once, when the service starts: the map's projection is domain/geomap.py's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BOUNDARIES = Path(__file__).parents[3] / "shared" / "data" / "kecamatan-kaltim.geojson"


def kecamatan_features(regency: str, path: Path = BOUNDARIES) -> list[dict[str, Any]]:
    """The GeoJSON features of the kecamatan of ``regency`` (dotted code, e.g. ``64.08``)."""
    features: list[dict[str, Any]] = json.loads(path.read_text())["features"]
    return [f for f in features if f["properties"]["kode"].startswith(regency + ".")]
