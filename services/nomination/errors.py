"""The nomination service's errors: one base, every error the service raises on purpose derives from it."""

from __future__ import annotations

from shared.errors import PayungError, PoisonMessage


class NominationError(PayungError):
    """Base of the nomination service's own errors."""


class InvalidField(NominationError, ValueError):
    """A field that breaks a rule; the API turns it into a 422 naming the field (a ValueError to pydantic)."""


class ImpossibleTransition(NominationError, ValueError):
    """An event that contradicts what the nomination already is (e.g. enrolled after rejected)."""


class IdempotencyKeyReused(NominationError):
    """The Idempotency-Key was used before for a different request body."""


class InconsistentEvent(NominationError, PoisonMessage):
    """A downstream event that contradicts this service's state: it names a nomination this service never issued,
    or moves one where it cannot go (enrolled after rejected). It changes nothing and is dead-lettered."""

    def __init__(self, reason: str) -> None:
        PoisonMessage.__init__(self, reason, "inconsistent")


class LetterRefused(NominationError):
    """An upload that is not a letter we keep, or may not keep: the HTTP status, a code and a reason that never
    repeats the content."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NotObjectable(NominationError):
    """An objection (sanggahan) the rules refuse (domain/objections.py): an HTTP 409 with a code and a reason that
    never repeats personal data, e.g. ``NotObjectable("OBJECTION_OPEN", "an objection ... is still open")``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class EvidenceRefused(NominationError):
    """An objection's evidence file or text that is refused (count, size, type by content, sha256): the HTTP status,
    a code and a reason that names the file by position only."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class InvalidLead(InvalidField):
    """A lead (a worker who asked to be nominated) with a field that breaks a rule: the field and why, never the
    value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason
