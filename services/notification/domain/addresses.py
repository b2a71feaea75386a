"""Addresses: the rules of ``shared.formats`` (phone, e-mail) with the causes a failed delivery reports, and what
operators may see of an address."""

from __future__ import annotations

from typing import Final

from services.notification.errors import InvalidAddress
from shared import formats

# The causes ``NotificationFailed.reason`` carries (the nomination service shows them in a nomination's history).
NO_CONTACT: Final = "no contact"
INVALID_PHONE: Final = "invalid phone number"
INVALID_EMAIL: Final = "invalid email address"


def normalise_phone(raw: str) -> str:
    """The E.164 form of an Indonesian mobile number (``0812...`` and ``+62812...`` alike), or ``InvalidAddress``."""
    try:
        return formats.mobile_number(raw)
    except formats.NotAMobileNumber:
        # A valid number that is no mobile (a landline) says so: the nominator then knows what to correct.
        raise InvalidAddress(f"{INVALID_PHONE}: not a mobile number") from None
    except formats.InvalidFormat:
        raise InvalidAddress(INVALID_PHONE) from None


def normalise_email(raw: str) -> str:
    """A syntactically plausible email address (the mail server has the last word), or ``InvalidAddress``."""
    try:
        return formats.email(raw)
    except formats.InvalidFormat:
        raise InvalidAddress(INVALID_EMAIL) from None


def mask_address(address: str | None) -> str | None:
    """What operators may see of an address: ``+62812****890``, ``b***@desa.id``."""
    if not address:
        return address
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(address) <= 8:
        return "*" * len(address)
    return f"{address[:6]}****{address[-3:]}"
