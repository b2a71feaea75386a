"""Payung's shared package: event contracts and infrastructure helpers (no domain rules)."""
