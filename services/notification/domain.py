"""Notification rules: who is told what, on which channel, and what happens after a failed attempt.

Pure functions only. An incoming event becomes one ``Planned`` delivery per recipient: its purpose, the recipient's
role, the route (channel + normalised address) or the reason there is none, and the template with its variables.
Rendering the text is ``messages``' job; sending it is the dispatcher's.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import phonenumbers

from shared import reasons as reason_catalogue
from shared.contracts import (
    EnrolmentConfirmed,
    EnrolmentEnded,
    EnrolmentRefused,
    EnrolmentWaitlisted,
    IdentityRejected,
    Nominator,
    Payload,
)
from shared.regions import RegionIndex

Purpose = Literal[
    "enrolment_confirmed",
    "enrolment_waitlisted",
    "enrolment_promoted",
    "identity_rejected",
    "enrolment_ended",
    "death_benefit_information",
    "enrolment_refused",
]
Role = Literal["beneficiary", "nominator"]

# The template version new deliveries use; older versions stay on disk so a stored delivery can be explained.
# ``contact_invalid`` is the note to the nominator when the beneficiary's phone is unusable (stored under the
# purpose of the event it is about, recipient role nominator).
TEMPLATE_VERSIONS: dict[str, int] = {
    "enrolment_confirmed": 1,
    "enrolment_waitlisted": 1,
    "enrolment_promoted": 1,
    "identity_rejected": 1,
    "enrolment_ended": 1,
    "death_benefit_information": 1,
    "enrolment_refused": 1,
    "contact_invalid": 1,
    "daily_digest": 1,
}
DIGEST = "daily_digest"  # the purpose of a digest delivery (not a contract purpose: it emits no event)
SUBJECTS: dict[str, str] = {
    "enrolment_confirmed": "Anda terdaftar BPJS Ketenagakerjaan",
    "enrolment_waitlisted": "Usulan BPJS Ketenagakerjaan: daftar tunggu",
    "enrolment_promoted": "Anda terdaftar BPJS Ketenagakerjaan (dari daftar tunggu)",
    "identity_rejected": "Usulan BPJS Ketenagakerjaan tidak lolos verifikasi",
    "enrolment_ended": "Kepesertaan BPJS Ketenagakerjaan berakhir",
    "death_benefit_information": "Santunan kematian BPJS Ketenagakerjaan untuk ahli waris",
    "enrolment_refused": "Pendaftaran BPJS Ketenagakerjaan ditolak BPJS",
    DIGEST: "Ringkasan harian usulan BPJS Ketenagakerjaan",
}

# Why coverage ended, in the words the beneficiary reads (EnrolmentEnded.reason).
END_REASONS_ID: dict[str, str] = {
    "moved_out": "pindah ke luar wilayah program",
    "became_wage_earner": "sudah menjadi pekerja penerima upah",
    "opted_out": "atas permintaan sendiri",
    "contributions_unpaid": "iuran tertunggak lebih dari 3 bulan",
    "not_renewed": "tidak diperpanjang tahun ini",
    "inactive": "NIK tidak aktif di Dukcapil",
    "deceased": "peserta meninggal dunia",
}

JKM_DEATH_BENEFIT = "Rp42 juta"  # Rp20m lump sum + Rp12m periodic + Rp10m funeral (DOMAIN.md)
BPJS_CALL_CENTRE = "175"

# How to fix each rejection reason, told to the nominator in plain Bahasa Indonesia: the one catalogue in
# shared.reasons (the verification service decides with the same codes).
REASON_EXPLANATIONS: dict[str, str] = {code: r.fix_id for code, r in reason_catalogue.REASONS.items()}
GENERIC_EXPLANATION = reason_catalogue.fix_text("")

MONTHS_ID = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip

NO_CONTACT = "no contact"
INVALID_PHONE = "invalid phone number"
INVALID_EMAIL = "invalid email address"


# --- Addresses -----------------------------------------------------------------------------------------------------


class InvalidAddress(ValueError):
    """An address no channel can use; the message is the cause reported in ``NotificationFailed``."""

    def __init__(self, cause: str, channel: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.channel = channel  # the channel that would have carried the message, if any


def normalise_phone(raw: str, region: str = "ID") -> str:
    """The E.164 form of a mobile number (``0812...`` and ``+62812...`` alike), or ``InvalidAddress``."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidAddress(INVALID_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddress(INVALID_PHONE)
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise InvalidAddress(f"{INVALID_PHONE}: not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}$")


def normalise_email(raw: str) -> str:
    """A syntactically plausible email address (the mail server has the last word), or ``InvalidAddress``."""
    value = raw.strip()
    if not _EMAIL.match(value):
        raise InvalidAddress(INVALID_EMAIL)
    return value


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


# --- Routes --------------------------------------------------------------------------------------------------------

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
    phone_region: str = "ID"

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
        address = normalise_phone(phone, policy.phone_region)
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
            address = normalise_email(raw) if "@" in raw else normalise_phone(raw, policy.phone_region)
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


# --- Planning ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One message to one recipient about one event: sendable (``routes``, in order) or failed at once (``failure``)."""

    delivery_id: uuid.UUID
    purpose: Purpose
    recipient_role: Role
    template: str
    template_version: int
    variables: dict[str, Any] = field(hash=False)
    routes: tuple[Route, ...]
    failure: str | None
    # The channel the message would have taken, reported with a failure before any route existed.
    intended_channel: str | None = None

    @property
    def route(self) -> Route | None:
        return self.routes[0] if self.routes else None


_DELIVERY_NAMESPACE = uuid.UUID("2f0c1bde-93a4-4c55-9a43-0c4e6f7a2b61")


def delivery_id(event_id: uuid.UUID, recipient_role: str, purpose: str) -> uuid.UUID:
    """Stable per (event, recipient, purpose): a redelivered event maps onto the same delivery."""
    return uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}/{recipient_role}/{purpose}")


def outcome_told(payload: Payload) -> str:
    """What an event tells the people concerned, as a key: the same outcome twice (a republished confirmation, a
    promotion confirmed again) is told once. A seat in another programme year (a renewal) is another outcome."""
    year = getattr(payload, "programme_year", None)
    outcome = {
        "EnrolmentConfirmed": "enrolled",
        "EnrolmentWaitlisted": "waitlisted",
        "EnrolmentEnded": "ended",
        "IdentityRejected": "rejected",
    }.get(payload.event_type, payload.event_type)
    return outcome if year is None else f"{outcome}:{year}"


def plan(event_id: uuid.UUID, payload: Payload, policy: ChannelPolicy, regions: RegionIndex) -> list[Planned]:
    """The deliveries an incoming event asks for.

    When the beneficiary's phone is unusable, the nominator is told (template ``contact_invalid``, under the same
    purpose with role nominator) so that the number gets corrected instead of the message silently vanishing.
    """
    match payload:
        case EnrolmentConfirmed():
            purpose: Purpose = "enrolment_promoted" if payload.promoted_from_waitlist else "enrolment_confirmed"
            variables: dict[str, Any] = {
                "membership_number": payload.membership_number,
                "funding_source": payload.funding_source_name,
                "coverage_start": payload.coverage_start,
                "jkm_benefit": JKM_DEATH_BENEFIT,
                "call_centre": BPJS_CALL_CENTRE,
            }
            return _to_beneficiary(event_id, purpose, variables, payload, policy, regions)
        case EnrolmentWaitlisted():
            variables = {"position": payload.position, "programme_year": payload.programme_year}
            return _to_beneficiary(event_id, "enrolment_waitlisted", variables, payload, policy, regions)
        case IdentityRejected():
            variables = {
                "full_name": payload.full_name,
                "reference": short_reference(payload.nomination_id),
                "village": village_name(payload.desa_code, regions),
                "reasons": explain_reasons([r.code for r in payload.reasons]),
            }
            return [_planned(event_id, "identity_rejected", "nominator", variables, payload.nominator, policy)]
        case EnrolmentRefused():
            # To the nominator, who can get the person's data put right: BPJS's reason, as BPJS gave it.
            variables = {
                "full_name": payload.full_name,
                "reference": short_reference(payload.nomination_id),
                "village": village_name(payload.desa_code, regions),
                "refusal_code": payload.refusal_code,
                "refusal_reason": payload.refusal_reason,
            }
            return [_planned(event_id, "enrolment_refused", "nominator", variables, payload.nominator, policy)]
        case EnrolmentEnded(reason="deceased"):
            variables = {
                "membership_number": payload.membership_number,
                "full_name": payload.full_name,
                "coverage_end": payload.coverage_end,
                "jkm_benefit": JKM_DEATH_BENEFIT,
                "call_centre": BPJS_CALL_CENTRE,
            }
            # To the family through the beneficiary's phone, and to the nominator, who often knows the family.
            family = _planned(event_id, "death_benefit_information", "beneficiary", variables, payload.phone, policy)
            official = _planned(
                event_id, "death_benefit_information", "nominator", variables, payload.nominator, policy
            )
            return [family, official]
        case EnrolmentEnded():
            variables = {
                "membership_number": payload.membership_number,
                "coverage_end": payload.coverage_end,
                "reason": END_REASONS_ID.get(payload.reason, payload.reason),
                "call_centre": BPJS_CALL_CENTRE,
            }
            return _to_beneficiary(event_id, "enrolment_ended", variables, payload, policy, regions)
    raise TypeError(f"no notification for {type(payload).__name__}")


def _to_beneficiary(
    event_id: uuid.UUID,
    purpose: Purpose,
    variables: dict[str, Any],
    payload: EnrolmentConfirmed | EnrolmentWaitlisted | EnrolmentEnded,
    policy: ChannelPolicy,
    regions: RegionIndex,
) -> list[Planned]:
    planned = _planned(event_id, purpose, "beneficiary", variables, payload.phone, policy)
    if planned.failure is None:
        return [planned]
    note = {
        "full_name": payload.full_name,
        "reference": short_reference(payload.nomination_id),
        "village": village_name(payload.desa_code, regions),
        "subject": SUBJECTS[purpose],
        "cause": planned.failure,
    }
    contact = _planned(event_id, purpose, "nominator", note, payload.nominator, policy, template="contact_invalid")
    return [planned, contact]


def _planned(
    event_id: uuid.UUID,
    purpose: Purpose,
    role: Role,
    variables: dict[str, Any],
    contact: str | Nominator,
    policy: ChannelPolicy,
    template: str | None = None,
) -> Planned:
    routes: list[Route] = []
    failure: InvalidAddress | None = None
    try:
        routes = (
            nominator_routes(contact, policy) if isinstance(contact, Nominator) else beneficiary_routes(contact, policy)
        )
    except InvalidAddress as exc:
        failure = exc
    template = template or purpose
    return Planned(
        delivery_id=delivery_id(event_id, role, purpose),
        purpose=purpose,
        recipient_role=role,
        template=template,
        template_version=TEMPLATE_VERSIONS[template],
        variables=variables,
        routes=tuple(routes),
        failure=failure.cause if failure else None,
        intended_channel=routes[0].channel if routes else failure.channel if failure else None,
    )


def explain_reasons(codes: list[str]) -> list[dict[str, str]]:
    """Each distinct reason code once, in the order given, with how to fix it (unknown codes get the fallback)."""
    seen: dict[str, dict[str, str]] = {}
    for code in codes:
        if code not in seen:
            seen[code] = {"code": code, "explanation": reason_catalogue.fix_text(code)}
    return list(seen.values())


def short_reference(nomination_id: uuid.UUID) -> str:
    """The first 8 hex digits of the nomination id: enough for a nominator to find it in the nomination screens."""
    return nomination_id.hex[:8].upper()


def village_name(desa_code: str, regions: RegionIndex) -> str:
    """``Desa Samurangau`` / ``Kelurahan Sangatta Utara`` (village codes 1xxx are kelurahan), or the bare code."""
    region = regions.get(desa_code)
    if region is None or region.level != "desa_kelurahan":
        return desa_code
    kind = "Kelurahan" if desa_code.rsplit(".", 1)[-1].startswith("1") else "Desa"
    return f"{kind} {region.name}"


def format_date_id(value: date) -> str:
    """``1 Desember 2026``."""
    return f"{value.day} {MONTHS_ID[value.month - 1]} {value.year}"


# --- After an attempt ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    initial_s: float = 5.0
    max_s: float = 3600.0
    jitter_s: float = 5.0


def retry_delay(
    attempts: int, policy: RetryPolicy, random_fraction: float, retry_after_s: float | None = None
) -> float | None:
    """Seconds until the next try after ``attempts`` transient failures, or None when the delivery should fail.

    Exponential backoff with jitter (``initial * 2^(n-1)`` capped at ``max``, plus up to ``jitter``); a provider's
    Retry-After wins when it is given, capped at ``max`` too so a bad header cannot park a message for days.
    """
    if attempts >= policy.max_attempts:
        return None
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), policy.max_s)
    backoff = min(policy.initial_s * 2.0 ** max(attempts - 1, 0), policy.max_s)
    return backoff + policy.jitter_s * random_fraction
