"""The verification service's errors: one base, ``VerificationError``; each kind says what the caller can do."""

from __future__ import annotations

from shared.errors import PayungError, TransientError


class VerificationError(PayungError):
    """Base of every error specific to the verification service."""


class RegistryUnavailable(VerificationError, TransientError):
    """The registry cannot answer now (no snapshot loaded, service down, quota exhausted): retry the batch later."""


class RegistryFileRefused(VerificationError):
    """The file is not a loadable registry extract (or wage-earner roster); the message says why."""


class CallbackRefused(VerificationError):
    """A verified DCI callback that cannot be applied: a replay, or a transaction we never started."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class ReviewError(VerificationError):
    """A review decision or read that cannot be applied; ``status_code`` is the HTTP answer."""

    status_code = 400


class ReviewNotFound(ReviewError):
    status_code = 404


class ReviewClosed(ReviewError):
    status_code = 409


class ReviewChanged(ReviewError):
    """Optimistic concurrency: the case changed (another reviewer decided it) since the reviewer opened it."""

    status_code = 409


class InvalidReason(ReviewError):
    status_code = 422


class PersonAlreadyVerified(ReviewError):
    status_code = 409


class EvidenceRefused(VerificationError):
    """An objection's evidence cannot be stored (not base64, too large, a sha256 or content-type mismatch)."""


class ObjectionError(VerificationError):
    """An objection read or decision that cannot be applied; ``status_code`` is the HTTP answer."""

    status_code = 400


class ObjectionNotFound(ObjectionError):
    status_code = 404


class ObjectionClosed(ObjectionError):
    """Decided already (or taken up already, for a second take-up): nothing is written."""

    status_code = 409


class ObjectionChanged(ObjectionError):
    """Optimistic concurrency: the case changed since the reviewer opened it."""

    status_code = 409


class ObjectionNotRerunnable(ObjectionError):
    """The nomination objected to cannot be re-run (decided before objections kept what a re-run needs)."""

    status_code = 409


class RegistryBusy(ObjectionError):
    """The civil registry cannot answer now: an upheld re-run needs its fresh answer; nothing was written."""

    status_code = 503


class InvalidNote(ObjectionError):
    status_code = 422
