"""Event contracts: the only thing the services share about each other.

Every event travels in an ``Envelope`` (event id, type, schema version, timezone-aware time, correlation id = the
nomination id, the pseudonymous person key) around a frozen payload model. Event names are in the past tense.
A breaking change to a payload is a new ``schema_version`` plus an upcaster registered in ``UPCASTERS`` that turns
the old dict into the new one, so consumers only ever see the newest version.

Contracts are strict (``extra="forbid"``): a producer that sends a field nobody agreed on gets its message
dead-lettered with the reason instead of having the field silently dropped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from shared import topics
from shared.errors import PoisonMessage


class Contract(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Payload(Contract):
    """Base of event payloads. Subclasses name their event type, version and topic."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int]
    topic: ClassVar[str]


P = TypeVar("P", bound=Payload)

NominatorType = Literal["rt", "desa", "disnaker"]
Sex = Literal["M", "F"]


class Address(Contract):
    kecamatan_code: str = Field(description="Dotted kecamatan code, e.g. 64.08.01")
    desa_code: str = Field(description="Dotted desa/kelurahan code, e.g. 64.08.01.2001")
    rt: str
    rw: str
    street: str = ""


class Nominator(Contract):
    type: NominatorType
    name: str
    region_code: str = Field(description="The nominator's own area: its desa code, or the regency for Disnaker")
    phone: str | None = Field(default=None, description="E.164, for messages to the nominator")
    email: str | None = None


class SupportingLetter(Contract):
    number: str
    date: date
    issuer: str


class Reason(Contract):
    """One explainable cause of a decision: a code from the rejection catalogue and a human-readable detail."""

    code: str
    detail: str


class SubmissionProof(Contract):
    """The nomination service's attestation that it issued this nomination for this person: an Ed25519 signature
    of ``shared.signing.submission_statement(nomination_id, nik, person_key)`` by its event key ``kid``. Verification
    passes it on in ``IdentityVerified``, so enrolment can tie a verification to a real submission whatever the
    order in which the topics are read (docs/security.md)."""

    kid: str = Field(max_length=200)
    signature: str = Field(max_length=200, description="base64url, no padding")


class NominationSubmitted(Payload):
    """v2: ``submission_proof`` (v1 events are upcast with none)."""

    event_type: ClassVar[str] = "NominationSubmitted"
    schema_version: ClassVar[int] = 2
    topic: ClassVar[str] = topics.NOMINATION_SUBMITTED

    nomination_id: uuid.UUID
    nik: str
    full_name: str
    birth_date: date
    sex: Sex
    phone: str = Field(description="E.164 (+62...)")
    address: Address
    occupation: str
    nominator: Nominator
    supporting_letter: SupportingLetter | None
    programme_regency: str = Field(description="Dotted regency code of the programme paying, e.g. 64.08")
    submission_proof: SubmissionProof | None = Field(default=None, description="None only when upcast from v1")


class IdentityVerified(Payload):
    """v2: ``submission_proof``, the nomination's own (v1 events are upcast with none, and enrolment refuses them)."""

    event_type: ClassVar[str] = "IdentityVerified"
    schema_version: ClassVar[int] = 2
    topic: ClassVar[str] = topics.IDENTITY_VERIFIED

    nomination_id: uuid.UUID
    nik: str
    full_name: str = Field(description="The name as the civil registry holds it")
    birth_date: date
    sex: Sex
    phone: str
    desa_code: str
    occupation: str
    nominator: Nominator
    programme_regency: str
    name_score: float = Field(ge=0, le=100)
    flags: tuple[Reason, ...] = ()
    submission_proof: SubmissionProof | None = Field(
        default=None, description="The NominationSubmitted's proof, passed on; None only when upcast from v1"
    )


class IdentityRejected(Payload):
    event_type: ClassVar[str] = "IdentityRejected"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.IDENTITY_REJECTED

    nomination_id: uuid.UUID
    reasons: tuple[Reason, ...] = Field(min_length=1)
    full_name: str = Field(description="The name as nominated, so the nominator knows whom the rejection is about")
    nominator: Nominator
    desa_code: str


class EnrolmentConfirmed(Payload):
    event_type: ClassVar[str] = "EnrolmentConfirmed"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.ENROLMENT_CONFIRMED

    nomination_id: uuid.UUID
    membership_number: str
    funding_source: str
    funding_source_name: str = Field(description="Readable name for messages, e.g. APBD Kab. Kutai Timur")
    programme_year: int
    coverage_start: date
    full_name: str
    phone: str
    desa_code: str
    nominator: Nominator
    promoted_from_waitlist: bool = Field(default=False, description="The seat was freed and given to this person")


class EnrolmentWaitlisted(Payload):
    event_type: ClassVar[str] = "EnrolmentWaitlisted"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.ENROLMENT_WAITLISTED

    nomination_id: uuid.UUID
    programme_year: int
    position: int = Field(ge=1, description="Place in the waitlist at the time of waitlisting")
    full_name: str
    phone: str
    desa_code: str
    nominator: Nominator


class IdentityReviewRequested(Payload):
    """Verification could not decide alone (a possible duplicate, a doubtful match): a Disnaker verifier will."""

    event_type: ClassVar[str] = "IdentityReviewRequested"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.IDENTITY_REVIEW_REQUESTED

    nomination_id: uuid.UUID
    layer: str = Field(description="The verification layer that asked for review, e.g. duplicates, registry")
    reasons: tuple[Reason, ...] = Field(min_length=1)
    desa_code: str


PersonChange = Literal["deceased", "moved_out", "inactive", "became_wage_earner"]  # the last from a re-check


class RegistryPersonUpdated(Payload):
    """A civil-registry refresh shows a change in a person who was verified: a life event for enrolment."""

    event_type: ClassVar[str] = "RegistryPersonUpdated"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.REGISTRY_PERSON_UPDATED

    nomination_id: uuid.UUID = Field(description="The verified nomination of this person")
    nik: str
    change: PersonChange
    effective_date: date
    new_regency: str | None = Field(default=None, description="For moved_out: the regency code now on record")
    snapshot_id: int


EndReason = Literal[
    "deceased", "moved_out", "became_wage_earner", "opted_out", "contributions_unpaid", "not_renewed", "inactive"
]


class EnrolmentEnded(Payload):
    """Coverage ends (the seat is freed for the next person on the waitlist)."""

    event_type: ClassVar[str] = "EnrolmentEnded"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.ENROLMENT_ENDED

    nomination_id: uuid.UUID
    membership_number: str
    funding_source: str
    programme_year: int
    reason: EndReason
    coverage_end: date = Field(description="Last day covered")
    full_name: str
    phone: str
    desa_code: str
    nominator: Nominator


class EnrolmentRefused(Payload):
    """BPJS Ketenagakerjaan refused to register a seat: no cover; the seat went to the next person waiting.

    The nominator is told why (``refusal_code`` and BPJS's own ``refusal_reason``) so the person's case can be fixed.
    """

    event_type: ClassVar[str] = "EnrolmentRefused"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.ENROLMENT_REFUSED

    nomination_id: uuid.UUID
    programme_year: int
    refusal_code: str = Field(description="BPJS's refusal code, e.g. PU_ACTIVE")
    refusal_reason: str = Field(description="BPJS's explanation, as it gave it")
    full_name: str
    desa_code: str
    nominator: Nominator


Purpose = Literal[
    "enrolment_confirmed",
    "enrolment_waitlisted",
    "enrolment_promoted",
    "identity_rejected",
    "enrolment_ended",
    "death_benefit_information",
    "enrolment_refused",
]
RecipientRole = Literal["beneficiary", "nominator"]


class NotificationSent(Payload):
    event_type: ClassVar[str] = "NotificationSent"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.NOTIFICATION_SENT

    nomination_id: uuid.UUID
    delivery_id: uuid.UUID
    purpose: Purpose
    recipient_role: RecipientRole
    channel: str


class NotificationFailed(Payload):
    event_type: ClassVar[str] = "NotificationFailed"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.NOTIFICATION_FAILED

    nomination_id: uuid.UUID
    delivery_id: uuid.UUID
    purpose: Purpose
    recipient_role: RecipientRole
    channel: str | None
    reason: str


PAYLOADS: tuple[type[Payload], ...] = (
    NominationSubmitted,
    IdentityVerified,
    IdentityRejected,
    EnrolmentConfirmed,
    EnrolmentWaitlisted,
    NotificationSent,
    NotificationFailed,
    IdentityReviewRequested,
    RegistryPersonUpdated,
    EnrolmentEnded,
    EnrolmentRefused,
)
PAYLOAD_BY_TYPE: dict[str, type[Payload]] = {p.event_type: p for p in PAYLOADS}

# (event_type, from_version) -> function turning a payload dict of that version into the next version's dict.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    # v1 had no submission proof; enrolment refuses a verification without one (docs/security.md, upgrades).
    ("NominationSubmitted", 1): lambda payload: {**payload, "submission_proof": None},
    ("IdentityVerified", 1): lambda payload: {**payload, "submission_proof": None},
}


class Envelope(Contract, Generic[P]):
    """What every Kafka message carries. The Kafka key is ``person_key``."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    correlation_id: uuid.UUID = Field(description="The nomination id: follows the person through every service")
    causation_id: uuid.UUID | None = Field(default=None, description="The event this one was caused by")
    producer: str
    person_key: str = Field(min_length=8, max_length=64, description="HMAC of the NIK; never the NIK itself")
    payload: P


def new_envelope(
    payload: P,
    *,
    producer: str,
    person_key: str,
    correlation_id: uuid.UUID,
    causation_id: uuid.UUID | None = None,
) -> Envelope[P]:
    # Parametrising the generic on every call is slow (a hot path at 150k events); reuse the cached classes.
    cls = _ADAPTERS.get(type(payload)) or envelope_class(type(payload))
    return cls(
        event_id=uuid.uuid4(),
        event_type=payload.event_type,
        schema_version=payload.schema_version,
        occurred_at=datetime.now(UTC),
        correlation_id=correlation_id,
        causation_id=causation_id,
        producer=producer,
        person_key=person_key,
        payload=payload,
    )


def encode(envelope: Envelope[Any]) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json"))


def envelope_class(payload_cls: type[Payload]) -> type[Envelope[Any]]:
    """``Envelope[payload_cls]`` for a class known only at run time (pydantic builds and caches the model)."""
    return Envelope[payload_cls]  # type: ignore[valid-type]  # a variable, not a type: parametrised at run time


_ADAPTERS: dict[type[Payload], type[Envelope[Any]]] = {p: envelope_class(p) for p in PAYLOADS}


def decode(raw: bytes | None, expected: type[P] | None = None) -> Envelope[P]:
    """Parse one message value into a current-version envelope, or raise ``PoisonMessage`` saying why."""
    if not raw:
        raise PoisonMessage("empty message value", "empty")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"not JSON: {exc}", "invalid_json") from None
    if not isinstance(data, dict):
        raise PoisonMessage("message is not a JSON object", "invalid_envelope")
    event_type, version = data.get("event_type"), data.get("schema_version")
    payload_cls = PAYLOAD_BY_TYPE.get(event_type) if isinstance(event_type, str) else None
    if payload_cls is None:
        raise PoisonMessage(f"unknown event_type {_name(event_type)}", "unknown_event_type")
    if expected is not None and payload_cls is not expected:
        raise PoisonMessage(
            f"event_type {_name(event_type)} does not belong on this topic (expected {expected.event_type})",
            "wrong_event_type",
        )
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PoisonMessage(f"invalid schema_version ({type(version).__name__})", "invalid_envelope")
    if version > payload_cls.schema_version:
        raise PoisonMessage(
            f"{event_type} schema_version {version} is newer than supported {payload_cls.schema_version}",
            "unsupported_version",
        )
    data = _upcast(data, payload_cls)
    try:
        return _ADAPTERS[payload_cls].model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage(_describe(exc), "schema_violation") from None


def _upcast(data: dict[str, Any], payload_cls: type[Payload]) -> dict[str, Any]:
    version = data["schema_version"]
    payload = data.get("payload")
    while version < payload_cls.schema_version:
        upcaster = UPCASTERS.get((payload_cls.event_type, version))
        if upcaster is None or not isinstance(payload, dict):
            raise PoisonMessage(f"no upcaster for {payload_cls.event_type} v{version}", "unsupported_version")
        payload, version = upcaster(payload), version + 1
    return {**data, "payload": payload, "schema_version": version}


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _name(value: object) -> str:
    """A field or type name as given, when it looks like one; never an arbitrary value (it may be personal data)."""
    return repr(value) if isinstance(value, str) and _NAME.fullmatch(value) else "(not shown)"


def _describe(exc: ValidationError) -> str:
    """Field paths and error codes of a validation error, never the offending values (they may be personal data):
    pydantic's messages quote parts of the input (a UUID error shows the character found), and a path may hold a
    key the sender chose, so a path part that is not a plain name is shown as ``?``."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) if isinstance(p, int) or _NAME.fullmatch(str(p)) else "?" for p in err["loc"])
        parts.append(f"{loc or '<root>'}: {err['type']}")
    return "; ".join(parts[:10])
