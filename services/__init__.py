"""Payung's four services. They import ``shared`` and never each other: they meet only in Kafka topics."""
