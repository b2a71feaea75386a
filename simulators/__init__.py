"""Simulators of the outside world (civil registry, BPJS) for tests and the demo: never the real systems."""
