"""Reporting service: a read model of the whole pipeline, folded from the topics, and the dashboard over it.

It consumes every business topic (never another service's database), keeps one row per nomination with codes,
dates and counts only (no NIK, name or phone), and answers aggregate questions: coverage against the target over
time and by area, worker category and funding source; budget allocated versus committed; top rejection reasons;
pipeline health (consumer lag, dead letters, review queue). ``GET /`` is the dashboard, ``GET /v1/reports/...``
its JSON API.
"""
