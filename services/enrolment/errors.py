"""The enrolment service's errors: one base, and the kinds the consumer and the callers tell apart.

A kind that a consumer must retry derives from ``TransientError`` too, one that must be dead-lettered from
``PoisonMessage`` (shared/errors.py): the consumer sorts failures by those bases only.
"""

from __future__ import annotations

from shared.errors import PayungError, PoisonMessage, TransientError


class EnrolmentError(PayungError):
    """Base of the enrolment service's errors."""


class QuotaBelowSeatsTaken(EnrolmentError):
    """The configuration would give a funding source fewer seats than it has already handed out."""


class RenewalRefused(EnrolmentError):
    """Renewal cannot run as asked (wrong years, seats still waiting for BPJS)."""


class FundingSourcesMissing(EnrolmentError, TransientError):
    """The programme year's configured sources are not in the database: a replica runs with another year or other
    codes than the one that synced them. Retried: the batch waits until the configurations agree."""


class UnprovenSubmission(EnrolmentError, PoisonMessage):
    """A verification for a nomination the nomination service never attested: it gets no seat (dead-lettered)."""

    def __init__(self, reason: str) -> None:
        PoisonMessage.__init__(self, reason, "unproven_submission")


class BpjsUnavailable(EnrolmentError, TransientError):
    """BPJS did not answer usefully (down, timing out, refusing our credentials): ask again later."""
