"""Notification service: tells beneficiaries and nominators, in Bahasa Indonesia, what happened to a nomination."""
