"""The verification use cases, one function per command or event (shared/messaging.py)."""
