"""The SQL of the verification service, one module per table group; functions never commit."""
