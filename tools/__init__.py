"""Developer tools: synthetic data for tests, demos and benchmarks (never imported by the services)."""
