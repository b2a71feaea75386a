"""The reporting service's errors: one base, so a caller can tell reporting's own failures from the rest."""

from __future__ import annotations

from shared.errors import PayungError, PoisonMessage


class ReportingError(PayungError):
    """Base of every error the reporting service raises on purpose."""


class NoReportingRule(ReportingError, PoisonMessage):
    """An event the read model has no rule for: it can never be folded in, so it is a dead letter."""

    def __init__(self, event_type: str) -> None:
        super().__init__(f"no reporting rule for {event_type}", "handler_error")


class RowsMismatch(ReportingError, ValueError):
    """Two rows of different nominations were to be merged (a programming error, never a message's fault)."""
