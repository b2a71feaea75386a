"""Routes: which channels carry a recipient's message, in order of preference, and the address each one takes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.notification.domain.addresses import NO_CONTACT, normalise_email, normalise_phone
from services.notification.errors import InvalidAddress
from shared.contracts import Nominator

# Channels whose messages must fit one SMS (the short form of a template); the others get the long form.
SHORT_FORM_CHANNELS = frozenset({"sms_http", "local"})
PHONE_CHANNELS = frozenset({"sms_http", "whatsapp", "local"})


@dataclass(frozen=True)
class Route:
    channel: str
    address: str


def template_form(channel: str) -> Literal["short", "long"]:
    """Which text a channel carries: one SMS (``short``) or the full explanation (``long``: WhatsApp, email)."""
    return "short" if channel in SHORT_FORM_CHANNELS else "long"


def _as_order(value: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class ChannelPolicy:
    """Which channels carry which recipient's messages, in order of preference (from ``NotificationSettings``).

    A delivery tries its routes in this order: a permanent failure on one channel moves it to the next, and only
    the last channel's permanent failure fails it. A single channel name is a one-element order.
    """

    beneficiary: str | tuple[str, ...] = "local"
    nominator: str | tuple[str, ...] | None = None  # None: email when known and configured, else the phone
    smtp_configured: bool = False
    membership_cards: bool = False  # send a new member their card where a route carries files (the service: on)

    def __post_init__(self) -> None:
        object.__setattr__(self, "beneficiary", _as_order(self.beneficiary))
        object.__setattr__(self, "nominator", _as_order(self.nominator))

    @property
    def beneficiary_order(self) -> tuple[str, ...]:
        order = self.beneficiary
        assert isinstance(order, tuple)  # __post_init__ made it one
        return order


def beneficiary_routes(phone: str, policy: ChannelPolicy) -> list[Route]:
    """The beneficiary's phone on each beneficiary channel in order, or ``InvalidAddress``."""
    order = policy.beneficiary_order
    if not phone or not phone.strip():
        raise InvalidAddress(NO_CONTACT)
    try:
        address = normalise_phone(phone)
    except InvalidAddress as exc:
        raise InvalidAddress(exc.cause, order[0]) from None
    return [Route(channel, address) for channel in order]


def beneficiary_route(phone: str, policy: ChannelPolicy) -> Route:
    return beneficiary_routes(phone, policy)[0]


def nominator_routes(nominator: Nominator, policy: ChannelPolicy) -> list[Route]:
    """Every usable (channel, address) for the nominator, in order of preference, or ``InvalidAddress``.

    With an explicit order each channel takes the address it can carry (email for ``email_smtp``, the phone for
    the others; ``local`` records an email when there is no phone). Without one: email by SMTP when configured,
    then the phone on the beneficiary channels. An invalid phone is skipped when another address works.
    """
    candidates: list[tuple[str, str | None]] = []
    order = policy.nominator
    if order is None:
        order = (("email_smtp",) if policy.smtp_configured else ()) + policy.beneficiary_order
    for channel in order:
        if channel == "email_smtp":
            candidates.append((channel, nominator.email))
        else:
            candidates.append((channel, nominator.phone))
            if channel == "local":
                candidates.append((channel, nominator.email))
    routes: list[Route] = []
    failures: list[InvalidAddress] = []
    for channel, raw in candidates:
        if not raw or not raw.strip():
            continue
        try:
            address = normalise_email(raw) if "@" in raw else normalise_phone(raw)
        except InvalidAddress as exc:
            failures.append(InvalidAddress(exc.cause, channel))
            continue
        if channel in PHONE_CHANNELS - {"local"} and "@" in address:
            continue
        route = Route(channel, address)
        if route not in routes:
            routes.append(route)
    if routes:
        return routes
    raise failures[0] if failures else InvalidAddress(NO_CONTACT)


def nominator_route(nominator: Nominator, policy: ChannelPolicy) -> Route:
    return nominator_routes(nominator, policy)[0]
