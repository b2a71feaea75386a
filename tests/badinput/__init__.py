"""The bad-input corpus (corpus.py), used by tests/e2e/test_badinput.py and tests/e2e/test_api_fuzz.py."""
