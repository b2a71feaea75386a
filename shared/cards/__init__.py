"""Membership cards: the link their QR code carries (``links``); rendering lives beside it (docs/outreach.md)."""
