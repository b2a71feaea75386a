"""Malformed and hostile inputs: HTTP requests to the nomination API and raw Kafka message values.

Each HTTP case must get a 4xx with a reason (a JSON body naming the problem); each Kafka case must end as a
dead-letter record carrying its cause. ``HOSTILE_BUT_VALID`` are nominations that look like attacks but are valid
data (injection strings in free-text fields, decomposed Unicode): they must be accepted and stored verbatim.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.contracts import NominationSubmitted, encode, new_envelope

Request = dict[str, Any]
SUBMIT = "/v1/nominations"
BATCH = "/v1/nominations:batch"


@dataclass(frozen=True)
class HttpCase:
    name: str
    body: bytes
    path: str = SUBMIT
    method: str = "POST"
    headers: dict[str, str | bytes] = field(default_factory=lambda: {"content-type": "application/json"})
    status: tuple[int, ...] = (422,)  # the acceptable answers (all 4xx)
    service: str = "nomination"
    anonymous: bool = False  # sent without a key
    secret: str | None = None  # a submitted value the answer must not repeat


def _with(good: Request, path: str, value: Any) -> bytes:
    """``good`` with the field at dotted ``path`` set to ``value`` (``DELETE`` removes it)."""
    data = copy.deepcopy(good)
    *parents, last = path.split(".")
    target = data
    for p in parents:
        target = target[p]
    if value is DELETE:
        target.pop(last, None)
    else:
        target[last] = value
    return json.dumps(data, ensure_ascii=False).encode()


DELETE = object()


# NIKs that must never pass: (why, value). The good NIK's head (regency, district) is reused where it matters.
def bad_niks(good_nik: str) -> list[tuple[str, Any]]:
    head, day, month, year, serial = good_nik[:6], good_nik[6:8], good_nik[8:10], good_nik[10:12], good_nik[12:]
    return [
        ("empty", ""),
        ("15 digits", good_nik[:15]),
        ("17 digits", good_nik + "1"),
        ("letters", "64080A4501900001"),
        ("spaces only", " " * 16),
        ("a number, not a string", int(good_nik)),
        ("null", None),
        ("unknown region", "990101" + day + month + year + serial),
        ("day 00", head + "00" + month + year + serial),
        ("day 32", head + "32" + month + year + serial),
        ("day 72 (female 32)", head + "72" + month + year + serial),
        ("month 00", head + day + "00" + year + serial),
        ("month 13", head + day + "13" + year + serial),
        ("arabic-indic digits", good_nik.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))),
        ("full-width digits", good_nik.translate(str.maketrans("0123456789", "０１２３４５６７８９"))),
        ("SQL injection", "6408014501' OR '1'='1"),
        ("NUL byte", good_nik[:8] + "\x00" + good_nik[9:]),
        ("very long", "6" * 10_000),
    ]


# Names that are not names: must be refused with a reason.
BAD_NAMES: list[tuple[str, str]] = [
    ("SQL injection", "Budi'); DROP TABLE nominations;--"),
    ("HTML injection", "<script>alert(1)</script>"),
    ("HTML entity", "Budi &lt;b&gt;"),
    ("emoji", "Budi Santoso 😀"),
    ("right-to-left override", "Budi \u202eosotnaS"),
    ("zero-width joiner", "Bu\u200ddi"),
    ("combining marks only", "\u0301\u0301\u0301"),
    ("NUL byte", "Budi\x00Santoso"),
    ("digits", "Budi 2"),
    ("too long", "Budi " * 40),
    ("one letter drowned in combining marks", "a" + "\u0301" * 500),
    ("empty", ""),
    ("blank", "   "),
]


def http_cases(good: Request) -> list[HttpCase]:
    """Every malformed request, built around one valid nomination ``good`` (never submitted as is)."""
    cases = [
        HttpCase("invalid JSON: truncated", b'{"nik": "64'),
        HttpCase("invalid JSON: empty body", b""),
        HttpCase("invalid JSON: not UTF-8", b'{"nik": "\xff\xfe"}', status=(400, 422)),
        HttpCase("invalid JSON: trailing garbage", json.dumps(good).encode() + b"}}"),
        HttpCase("JSON null", b"null"),
        HttpCase("JSON array", b"[]"),
        HttpCase("JSON string", b'"nomination"'),
        HttpCase("deeply nested", b"[" * 50_000 + b"]" * 50_000, status=(413, 422)),
        HttpCase("deeply nested object", b'{"a":' * 5_000 + b"1" + b"}" * 5_000, status=(400, 422)),
        HttpCase("text/plain body", json.dumps(good).encode(), headers={"content-type": "text/plain"}),
        HttpCase("oversized body (200 kB)", _with(good, "address.street", "x" * 200_000), status=(413,)),
        HttpCase(
            "Idempotency-Key too long",
            json.dumps(good).encode(),
            headers={"content-type": "application/json", "idempotency-key": "k" * 500},
        ),
        HttpCase("extra top-level field", _with(good, "is_admin", True)),
        HttpCase("extra nested field", _with(good, "address.geo", {"lat": 0})),
        HttpCase("sex X", _with(good, "sex", "X")),
        HttpCase("birth date words", _with(good, "birth_date", "yesterday")),
        HttpCase("birth date in the future", _with(good, "birth_date", "2999-01-01")),
        HttpCase("birth date year 0", _with(good, "birth_date", "0000-01-01")),
        HttpCase("address a string", _with(good, "address", "Jl. Merdeka")),
        HttpCase("rt letters", _with(good, "address.rt", "abc")),
        HttpCase("unknown desa", _with(good, "address.desa_code", "99.99.99.9999")),
        HttpCase("unknown occupation", _with(good, "occupation", "astronaut")),
        HttpCase("phone letters", _with(good, "phone", "08abc")),
        HttpCase("phone NUL", _with(good, "phone", "0812\x0012345678")),
        HttpCase("nominator type unknown", _with(good, "nominator.type", "president")),
        HttpCase("nominator e-mail HTML", _with(good, "nominator.email", "<a@b.c>")),
        HttpCase("street with NUL byte", _with(good, "address.street", "Jl. Merdeka\x00 1")),
        HttpCase("street with control characters", _with(good, "address.street", "Jl.\x1b[31m Merdeka")),
        HttpCase("GET with a non-UUID id", b"", path=f"{SUBMIT}/not-a-uuid", method="GET", headers={}),
        HttpCase("GET an unknown id", b"", path=f"{SUBMIT}/{uuid.uuid4()}", method="GET", headers={}, status=(404,)),
        HttpCase("PUT", json.dumps(good).encode(), method="PUT", status=(405,)),
        HttpCase("batch: empty", b'{"items": []}', path=BATCH),
        HttpCase("batch: items not a list", b'{"items": {"a": 1}}', path=BATCH),
        HttpCase("batch: 1001 items", _batch([{"nomination": {}}] * 1001), path=BATCH),
        HttpCase("batch: over 4 MB", _batch([{"nomination": good, "pad": "x" * 5_000_000}]), path=BATCH, status=(413,)),
        HttpCase("batch: an item not an object", _batch([{"nomination": "x"}]), path=BATCH),
        HttpCase("batch: extra field in an item", _batch([{"nomination": good, "priority": 1}]), path=BATCH),
    ]
    cases += [HttpCase(f"missing {f}", _with(good, f, DELETE)) for f in _required(good)]
    cases += [HttpCase(f"NIK {why}", _with(good, "nik", nik)) for why, nik in bad_niks(good["nik"])]
    cases += [HttpCase(f"name {why}", _with(good, "full_name", name)) for why, name in BAD_NAMES]
    cases += [HttpCase(f"nominator name {why}", _with(good, "nominator.name", n)) for why, n in BAD_NAMES[:6]]
    return cases


JSON = {"content-type": "application/json"}
BIG = 50 * 1024 * 1024


def edge_cases() -> list[HttpCase]:
    """The HTTP edge of every service (issue 11, section 3): ids beyond int64, control characters in queries and
    headers, bodies over the limit with and without a key, a non-ASCII signature header, values not echoed."""
    phone = "081299887766554433"
    note = "catatan rahasia " * 400_000  # ~6 MB
    some = uuid.uuid4()
    return [
        HttpCase("review id beyond int64", b"", path="/v1/reviews/99999999999999999999", method="GET", headers={},
                 service="verification"),
        HttpCase("review id 2**63", b"", path=f"/v1/reviews/{2**63}", method="GET", headers={}, service="verification"),
        HttpCase("after_id beyond int64", b"", path=f"/v1/reviews?after_id={2**64}", method="GET", headers={},
                 service="verification"),
        HttpCase("NUL in a query parameter", b"", path="/v1/reviews?desa_code=64.08%00", method="GET", headers={},
                 service="verification", status=(400,)),
        HttpCase("NUL in a path id", b"", path=f"/v1/enrolments/{some}%00", method="GET", headers={},
                 service="enrolment", status=(400,)),
        HttpCase("escape in a query", b"", path="/v1/deliveries?status=%1b[31m", method="GET", headers={},
                 service="notification", status=(400,)),
        HttpCase("decision id beyond int64", b'{"decision": "approve"}', path=f"/v1/reviews/{2**64}/decision",
                 service="verification"),
        HttpCase("anonymous 50 MB decision", b"x" * BIG, path="/v1/reviews/1/decision", service="verification",
                 anonymous=True, status=(401,)),
        HttpCase("anonymous 50 MB end of a seat", b"x" * BIG, path=f"/v1/enrolments/{some}/end", service="enrolment",
                 anonymous=True, status=(401,)),
        HttpCase("anonymous 50 MB opt-out", b"x" * BIG, path="/v1/opt-outs", service="notification", anonymous=True,
                 status=(401,)),
        HttpCase("a 6 MB review note", orjson.dumps({"decision": "approve", "note": note}),
                 path="/v1/reviews/1/decision", service="verification", status=(413,)),
        HttpCase("an opt-out phone not echoed", orjson.dumps({"phone": phone}), path="/v1/opt-outs",
                 service="notification", secret=phone),
        HttpCase("a nomination phone not echoed", orjson.dumps({"phone": phone}), secret=phone),
        HttpCase("non-ASCII signature header", b"{}", path="/v1/receipts/whatsapp", service="notification",
                 headers={**JSON, "x-hub-signature-256": "sha256=\u00e9\u00e9".encode("latin-1")}, anonymous=True,
                 status=(401, 404)),
        HttpCase("webhook: unknown channel", b"{}", path="/v1/receipts/telegram", service="notification",
                 anonymous=True, status=(404, 422)),
        HttpCase("end of a seat: not a UUID", b"{}", path="/v1/enrolments/12/end", service="enrolment"),
        HttpCase("retry: not a UUID", b"", path="/v1/deliveries/1/retry", service="notification", headers={}),
        HttpCase("reports: bad kecamatan", b"", path="/v1/reports/coverage?kecamatan=%27%3B--", method="GET",
                 headers={}, service="reporting"),
        HttpCase("reports: limit beyond int64", b"", path=f"/v1/reports/rejections?limit={2**64}", method="GET",
                 headers={}, service="reporting"),
    ]  # fmt: skip


def batch_item_cases(good: Request) -> list[tuple[str, dict[str, Any]]]:
    """Items of ONE batch request that must each come back 422 with errors, while the request itself is 200."""
    items = [(f"item NIK {why}", json.loads(_with(good, "nik", nik))) for why, nik in bad_niks(good["nik"])[:8]]
    items += [(f"item name {why}", json.loads(_with(good, "full_name", n))) for why, n in BAD_NAMES[:6]]
    items += [("item empty object", {})]
    return items


def _batch(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"items": items})


def _required(good: Request) -> list[str]:
    optional = {"supporting_letter"}
    return [k for k in good if k not in optional] + ["address.desa_code", "nominator.type"]


# ------------------------------------------------------------------------------------------------------ Kafka
def kafka_cases(nomination: Request, programme_regency: str = "64.08") -> list[tuple[str, bytes]]:
    """Raw values for the ``nomination.submitted`` topic, each of which the verification service must dead-letter."""
    payload = NominationSubmitted(nomination_id=uuid.uuid4(), programme_regency=programme_regency, **_api(nomination))
    valid = orjson.loads(
        encode(new_envelope(payload, producer="badinput", person_key="k" * 32, correlation_id=uuid.uuid4()))
    )

    def mutate(fn: Callable[[dict[str, Any]], None]) -> bytes:
        data = copy.deepcopy(valid)
        data["event_id"] = str(uuid.uuid4())
        fn(data)
        return orjson.dumps(data)

    return [
        ("not JSON", b"{not json"),
        ("empty value", b""),
        ("JSON array", b"[1, 2]"),
        ("not UTF-8", b"\xff\xfe\xfd"),
        ("unknown event type", mutate(lambda d: d.update(event_type="NominationTeleported"))),
        ("event type of another topic", mutate(lambda d: d.update(event_type="IdentityVerified"))),
        ("future schema version", mutate(lambda d: d.update(schema_version=99))),
        ("schema version as a string", mutate(lambda d: d.update(schema_version="1"))),
        ("schema version 0", mutate(lambda d: d.update(schema_version=0))),
        ("no payload", mutate(lambda d: d.pop("payload"))),
        ("no event id", mutate(lambda d: d.pop("event_id"))),
        ("payload without nomination_id", mutate(lambda d: d["payload"].pop("nomination_id"))),
        ("extra payload field", mutate(lambda d: d["payload"].update(is_admin=True))),
        ("extra envelope field", mutate(lambda d: d.update(routing="elsewhere"))),
        ("naive timestamp", mutate(lambda d: d.update(occurred_at="2026-01-01T00:00:00"))),
        ("NIK as a number", mutate(lambda d: d["payload"].update(nik=1234))),
        ("huge value (900 kB)", mutate(lambda d: d["payload"].update(padding="A" * 900_000))),
    ]


def _api(request: Request) -> dict[str, Any]:
    """The API request as the nomination service hands it on (dates as ISO strings are fine for the model)."""
    return {k: v for k, v in request.items()}
