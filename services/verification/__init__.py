"""Verification service: checks nominated people against the NIK rules and the civil registry, decides, explains."""
