"""The reporting service's pure rules: the read model (readmodel.py), the figures derived from it (figures.py), and
how they are shown: words (labels.py), numbers and times (formats.py), charts (charts.py) and the map (geomap.py).
No I/O here: the region list, the boundaries and the configuration come in as arguments."""
