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
from shared.formats import Purpose


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
    """v2: ``submission_proof``, the nomination's own (v1 events are upcast with none, and enrolment refuses them).

    v3: ``objection_id``, set when an upheld objection re-ran verification (v2 events are upcast with none).
    """

    event_type: ClassVar[str] = "IdentityVerified"
    schema_version: ClassVar[int] = 3
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
    objection_id: uuid.UUID | None = Field(
        default=None, description="Set when an upheld objection (sanggahan) re-ran verification and this is its result"
    )


class IdentityRejected(Payload):
    event_type: ClassVar[str] = "IdentityRejected"
    schema_version: ClassVar[int] = 2
    topic: ClassVar[str] = topics.IDENTITY_REJECTED

    nomination_id: uuid.UUID
    reasons: tuple[Reason, ...] = Field(min_length=1)
    full_name: str = Field(description="The name as nominated, so the nominator knows whom the rejection is about")
    nominator: Nominator
    desa_code: str
    objection_id: uuid.UUID | None = Field(
        default=None, description="Set when an upheld objection (sanggahan) re-ran verification and this is its result"
    )


class EnrolmentConfirmed(Payload):
    event_type: ClassVar[str] = "EnrolmentConfirmed"
    schema_version: ClassVar[int] = 2
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
    restored_by_objection: uuid.UUID | None = Field(
        default=None, description="v2: the upheld objection that gave an ended member their seat back"
    )


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


# --- Workers' own side: self-check, objections, leads, outreach (issue 15, docs/outreach.md) -----------------------

Channel = Literal["sms", "whatsapp"]


class InboundMessageReceived(Payload):
    """A person texted the programme's number (SMS or WhatsApp): the gateway's message, as received.

    Notification owns the gateways, so it receives the message, checks the gateway's signature and publishes it;
    nomination reads the keyword (``CEK``, ``SANGGAH``, ``DAFTAR``...) and answers with ``InboundMessageAnswered``.
    The envelope's correlation id is ``message_id``; its person key is an HMAC of the phone number, never the number.
    """

    event_type: ClassVar[str] = "InboundMessageReceived"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.INBOUND_MESSAGE_RECEIVED

    message_id: uuid.UUID = Field(description="uuid5 of the gateway and its message id: a redelivery keeps it")
    channel: Channel
    phone: str = Field(max_length=20, description="The sender, E.164")
    text: str = Field(max_length=480, description="The message text as sent (trimmed to 480 characters)")
    received_at: AwareDatetime


SelfCheckState = Literal["in_process", "verified", "waitlisted", "covered", "not_eligible", "ended"]
ObjectionState = Literal["received", "in_review", "upheld", "dismissed"]


class SelfCheckStatus(Contract):
    """What a self-check may say about a person's own nomination or cover, and nothing more."""

    state: SelfCheckState
    waitlist_position: int | None = Field(default=None, ge=1)
    membership_number: str | None = Field(default=None, description="KPJ number, when covered or ended")
    covered_since: date | None = None
    covered_until: date | None = Field(default=None, description="Last day covered, when ended")
    reason_codes: tuple[str, ...] = Field(default=(), description="Why not eligible or ended (shared/reasons.py)")
    objection_id: uuid.UUID | None = None
    objection_state: ObjectionState | None = None
    objection_due_by: date | None = None


AnswerKind = Literal[
    "status",  # the state of the sender's own nomination or cover
    "no_match",  # no nomination matches that NIK + birth date (says nothing more)
    "limited",  # too many attempts: try again later (sent at most once per lock-out)
    "objection_received",  # SANGGAH accepted: the objection's id and deadline
    "lead_received",  # DAFTAR accepted: the desa's officials will contact the sender
    "help",  # an unknown keyword or a malformed message: how to write one
]


class InboundMessageAnswered(Payload):
    """Nomination's answer to one inbound message, for notification to send back on the same channel."""

    event_type: ClassVar[str] = "InboundMessageAnswered"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.INBOUND_MESSAGE_ANSWERED

    message_id: uuid.UUID = Field(description="The InboundMessageReceived answered (one answer per message)")
    channel: Channel
    phone: str = Field(max_length=20)
    kind: AnswerKind
    status: SelfCheckStatus | None = Field(default=None, description="For kind status")
    objection_id: uuid.UUID | None = Field(default=None, description="For kind objection_received")
    due_by: date | None = Field(default=None, description="For kind objection_received: decision deadline")
    help_topic: str | None = Field(default=None, max_length=20, description="For kind help: which keyword")


ObjectionGround = Literal["rejected", "ended"]
ObjectionReason = Literal[
    "data_corrected",  # the civil registry or the person's data has been corrected since
    "not_duplicate",  # rejected as a duplicate, but is a different person
    "still_eligible",  # still an informal worker / still in the regency
    "not_deceased",  # cover ended as deceased, but the member is alive
    "not_moved",  # cover ended as moved out, but the member still lives here
    "other",
]
EvidenceType = Literal["application/pdf", "image/jpeg", "image/png"]


class Evidence(Contract):
    """A supporting document of an objection (a letter, a photo of a corrected KK), carried in the event."""

    filename: str = Field(max_length=120)
    content_type: EvidenceType
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    data: str = Field(max_length=400_000, description="base64 (standard alphabet) of at most 300 KB")


class ObjectionFiled(Payload):
    """A sanggahan: a rejected person, their nominator, or an ended member objects; a case for verification.

    The envelope's correlation id is the nomination id and its person key the nomination's, so an objection stays in
    order with that person's other events.
    """

    event_type: ClassVar[str] = "ObjectionFiled"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.OBJECTION_FILED

    objection_id: uuid.UUID
    nomination_id: uuid.UUID
    ground: ObjectionGround = Field(description="What is objected to: a rejection, or the end of cover")
    filed_by: RecipientRole
    channel: Literal["portal", "web", "sms", "whatsapp"]
    reason_code: ObjectionReason
    reason_text: str = Field(default="", max_length=1000)
    evidence: tuple[Evidence, ...] = Field(default=(), max_length=2)
    filed_at: AwareDatetime
    due_by: date = Field(description="The decision deadline (service level), told to the person")
    full_name: str
    phone: str
    desa_code: str
    nominator: Nominator


class ObjectionReviewed(Payload):
    """Verification took up (``in_review``) or decided (``upheld`` / ``dismissed``) an objection.

    Upheld on a rejection: verification re-runs the nomination (its result carries ``objection_id``). Upheld on an
    ended cover: enrolment gives the seat back if the quota has one, else a waitlist place (docs/outreach.md).
    """

    event_type: ClassVar[str] = "ObjectionReviewed"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.OBJECTION_REVIEWED

    objection_id: uuid.UUID
    nomination_id: uuid.UUID
    state: Literal["in_review", "upheld", "dismissed"]
    ground: ObjectionGround
    reason_code: ObjectionReason
    note: str = Field(default="", max_length=1000, description="The verifier's note, told to the person")
    filed_at: AwareDatetime
    reviewed_at: AwareDatetime
    full_name: str
    phone: str
    desa_code: str
    nominator: Nominator


class LeadReceived(Payload):
    """A worker asked to be considered: a lead for the nominators of their desa, not a nomination.

    The envelope's correlation id is ``lead_id``; its person key an HMAC of the phone number.
    """

    event_type: ClassVar[str] = "LeadReceived"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.LEAD_RECEIVED

    lead_id: uuid.UUID
    desa_code: str
    full_name: str = Field(max_length=120)
    phone: str = Field(max_length=20)
    occupation: str = Field(description="An occupation code of shared.formats.OCCUPATIONS")
    channel: Literal["web", "sms", "whatsapp"]
    received_at: AwareDatetime


class DesaShortfall(Contract):
    desa_code: str
    nominations: int = Field(ge=0)
    eligible_population: int = Field(ge=0)


class QuotaShortfallForecast(Payload):
    """A funding source will not fill its quota this programme year at the current pace.

    The envelope's correlation id is ``forecast_id``; its person key an HMAC-free constant per source
    (``source:<funding_source>``): no person is in it.
    """

    event_type: ClassVar[str] = "QuotaShortfallForecast"
    schema_version: ClassVar[int] = 1
    topic: ClassVar[str] = topics.QUOTA_SHORTFALL_FORECAST

    forecast_id: uuid.UUID
    funding_source: str
    funding_source_name: str
    programme_year: int
    as_of: date
    quota: int = Field(ge=0)
    enrolled: int = Field(ge=0)
    forecast_enrolled: int = Field(ge=0, description="Seats expected filled by the programme year's end")
    seats_left: int = Field(ge=0, description="quota - forecast_enrolled")
    unspent_rupiah: int = Field(ge=0, description="Contributions of the seats left for the months left")
    under_represented: tuple[str, ...] = Field(default=(), description="Occupation codes below their share")
    desa: tuple[DesaShortfall, ...] = Field(default=(), description="Fewest nominations per eligible population")


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
    InboundMessageReceived,
    InboundMessageAnswered,
    ObjectionFiled,
    ObjectionReviewed,
    LeadReceived,
    QuotaShortfallForecast,
)
PAYLOAD_BY_TYPE: dict[str, type[Payload]] = {p.event_type: p for p in PAYLOADS}

# (event_type, from_version) -> function turning a payload dict of that version into the next version's dict.
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    # v1 had no submission proof; enrolment refuses a verification without one (docs/security.md, upgrades).
    ("NominationSubmitted", 1): lambda payload: {**payload, "submission_proof": None},
    ("IdentityVerified", 1): lambda payload: {**payload, "submission_proof": None},
    # objections (sanggahan): a result of a re-run names the objection; a restored seat names it too
    ("IdentityVerified", 2): lambda payload: {**payload, "objection_id": None},
    ("IdentityRejected", 1): lambda payload: {**payload, "objection_id": None},
    ("EnrolmentConfirmed", 1): lambda payload: {**payload, "restored_by_objection": None},
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
