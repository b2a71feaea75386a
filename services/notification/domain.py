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

from shared.contracts import EnrolmentConfirmed, EnrolmentWaitlisted, IdentityRejected, Nominator, Payload
from shared.regions import RegionIndex

Purpose = Literal["enrolment_confirmed", "enrolment_waitlisted", "identity_rejected"]
Role = Literal["beneficiary", "nominator"]

# The template version new deliveries use; older versions stay on disk so a stored delivery can be explained.
TEMPLATE_VERSIONS: dict[str, int] = {"enrolment_confirmed": 1, "enrolment_waitlisted": 1, "identity_rejected": 1}
SUBJECTS: dict[str, str] = {
    "enrolment_confirmed": "Anda terdaftar BPJS Ketenagakerjaan",
    "enrolment_waitlisted": "Usulan BPJS Ketenagakerjaan: daftar tunggu",
    "identity_rejected": "Usulan BPJS Ketenagakerjaan tidak lolos verifikasi",
}

JKM_DEATH_BENEFIT = "Rp42 juta"  # Rp20m lump sum + Rp12m periodic + Rp10m funeral (DOMAIN.md)
BPJS_CALL_CENTRE = "175"

# How to fix each rejection reason, told to the nominator in plain Bahasa Indonesia.
REASON_EXPLANATIONS: dict[str, str] = {
    "REGISTRY_NOT_FOUND": "NIK tidak ditemukan di data Dukcapil. Cocokkan 16 digit NIK dengan KTP/KK, "
    "lalu usulkan ulang.",
    "DECEASED": "Menurut Dukcapil orang ini sudah meninggal. Jika keliru, data harus diperbaiki di Disdukcapil dulu.",
    "INACTIVE": "NIK tidak aktif di Dukcapil. Yang bersangkutan perlu mengaktifkan NIK di Disdukcapil, "
    "lalu usulkan ulang.",
    "OUTSIDE_PROGRAMME_REGENCY": "Alamat di luar wilayah kabupaten program ini. Usulkan lewat program daerah "
    "tempat tinggalnya.",
    "NAME_MISMATCH": "Nama tidak sama dengan data Dukcapil. Tulis nama lengkap persis seperti di KTP, "
    "lalu usulkan ulang.",
    "BIRTH_DATE_MISMATCH": "Tanggal lahir tidak sama dengan data Dukcapil. Salin tanggal lahir dari KTP, "
    "lalu usulkan ulang.",
    "AGE_OUT_OF_RANGE": "Usia di luar batas umur peserta program ini, jadi belum bisa didaftarkan.",
    "NIK_INVALID": "NIK tidak sah. NIK harus 16 digit angka persis seperti di KTP; perbaiki lalu usulkan ulang.",
    "DUPLICATE_PERSON": "Orang ini sudah pernah diusulkan atau sudah terdaftar, jadi tidak perlu diusulkan lagi.",
}
GENERIC_EXPLANATION = "Data belum dapat diverifikasi. Hubungi Disnaker setempat untuk penjelasan."

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


@dataclass(frozen=True)
class Route:
    channel: str
    address: str


@dataclass(frozen=True)
class ChannelPolicy:
    """Which channel carries which recipient's messages (from settings; see ``NotificationSettings``)."""

    beneficiary: Literal["local", "sms_http"] = "local"
    nominator: Literal["local", "sms_http", "email_smtp"] | None = None  # None: choose per nominator
    smtp_configured: bool = False
    phone_region: str = "ID"


def beneficiary_route(phone: str, policy: ChannelPolicy) -> Route:
    """The beneficiary's phone on the beneficiary channel, or ``InvalidAddress``."""
    if not phone or not phone.strip():
        raise InvalidAddress(NO_CONTACT)
    try:
        return Route(policy.beneficiary, normalise_phone(phone, policy.phone_region))
    except InvalidAddress as exc:
        raise InvalidAddress(exc.cause, policy.beneficiary) from None


def nominator_route(nominator: Nominator, policy: ChannelPolicy) -> Route:
    """The first usable (channel, address) for the nominator, in order of preference, or ``InvalidAddress``.

    Email goes by SMTP when it is configured (or chosen); otherwise the nominator's phone takes the phone channel.
    The local demo channel records any address, so an email-only nominator is still "told" on the local stack.
    """
    phone_channel = policy.nominator if policy.nominator in ("local", "sms_http") else policy.beneficiary
    candidates: list[tuple[str, str | None]] = []
    if policy.nominator == "email_smtp" or (policy.nominator is None and policy.smtp_configured):
        candidates.append(("email_smtp", nominator.email))
    candidates.append((phone_channel, nominator.phone))
    if phone_channel == "local":
        candidates.append(("local", nominator.email))
    failures: list[InvalidAddress] = []
    for channel, raw in candidates:
        if not raw or not raw.strip():
            continue
        try:
            address = normalise_email(raw) if "@" in raw else normalise_phone(raw, policy.phone_region)
        except InvalidAddress as exc:
            failures.append(InvalidAddress(exc.cause, channel))
            continue
        return Route(channel, address)
    raise failures[0] if failures else InvalidAddress(NO_CONTACT)


# --- Planning ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One message to one recipient about one event: sendable (``route``) or failed at once (``failure``)."""

    delivery_id: uuid.UUID
    purpose: Purpose
    recipient_role: Role
    template: str
    template_version: int
    variables: dict[str, Any] = field(hash=False)
    route: Route | None
    failure: str | None
    # The channel the message would have taken, reported with a failure before any route existed.
    intended_channel: str | None = None


_DELIVERY_NAMESPACE = uuid.UUID("2f0c1bde-93a4-4c55-9a43-0c4e6f7a2b61")


def delivery_id(event_id: uuid.UUID, recipient_role: str, purpose: str) -> uuid.UUID:
    """Stable per (event, recipient, purpose): a redelivered event maps onto the same delivery."""
    return uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}/{recipient_role}/{purpose}")


def plan(event_id: uuid.UUID, payload: Payload, policy: ChannelPolicy, regions: RegionIndex) -> list[Planned]:
    """The deliveries an incoming event asks for."""
    match payload:
        case EnrolmentConfirmed():
            variables = {
                "membership_number": payload.membership_number,
                "funding_source": payload.funding_source_name,
                "coverage_start": payload.coverage_start,
                "jkm_benefit": JKM_DEATH_BENEFIT,
                "call_centre": BPJS_CALL_CENTRE,
            }
            return [_planned(event_id, "enrolment_confirmed", "beneficiary", variables, payload.phone, policy)]
        case EnrolmentWaitlisted():
            variables = {"position": payload.position, "programme_year": payload.programme_year}
            return [_planned(event_id, "enrolment_waitlisted", "beneficiary", variables, payload.phone, policy)]
        case IdentityRejected():
            variables = {
                "full_name": payload.full_name,
                "reference": short_reference(payload.nomination_id),
                "village": village_name(payload.desa_code, regions),
                "reasons": explain_reasons([r.code for r in payload.reasons]),
            }
            return [_planned(event_id, "identity_rejected", "nominator", variables, payload.nominator, policy)]
    raise TypeError(f"no notification for {type(payload).__name__}")


def _planned(
    event_id: uuid.UUID,
    purpose: Purpose,
    role: Role,
    variables: dict[str, Any],
    contact: str | Nominator,
    policy: ChannelPolicy,
) -> Planned:
    route: Route | None = None
    failure: InvalidAddress | None = None
    try:
        route = (
            nominator_route(contact, policy) if isinstance(contact, Nominator) else beneficiary_route(contact, policy)
        )
    except InvalidAddress as exc:
        failure = exc
    return Planned(
        delivery_id=delivery_id(event_id, role, purpose),
        purpose=purpose,
        recipient_role=role,
        template=purpose,
        template_version=TEMPLATE_VERSIONS[purpose],
        variables=variables,
        route=route,
        failure=failure.cause if failure else None,
        intended_channel=route.channel if route else failure.channel if failure else None,
    )


def explain_reasons(codes: list[str]) -> list[dict[str, str]]:
    """Each distinct reason code once, in the order given, with how to fix it (unknown codes get the fallback)."""
    seen: dict[str, dict[str, str]] = {}
    for code in codes:
        if code not in seen:
            seen[code] = {"code": code, "explanation": REASON_EXPLANATIONS.get(code, GENERIC_EXPLANATION)}
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
    backoff = min(policy.initial_s * 2 ** max(attempts - 1, 0), policy.max_s)
    return backoff + policy.jitter_s * random_fraction
