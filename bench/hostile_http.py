"""Hostile HTTP requests for the hostile-input suite (bench/hostile.py), generated from each service's OpenAPI
document: every operation gets malformed ids and query values, oversized bodies (with a key and without),
non-ASCII headers and random JSON; the provider webhooks get correctly signed malformed bodies.

Every generated value carries a marker (``ZQX`` and digits) so an answer that echoes what was submitted is
caught. Answers are counted by status class; ``refused`` is any 4xx, ``transport`` a connection the server cut (a
fair answer to an oversized body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

# Values an id or a query parameter must never turn into a 5xx.
_BAD_IDS = [
    "9" * 19,  # int64 + 1 territory
    "9" * 40,
    "-9223372036854775809",
    "0",
    "-1",
    "1e309",
    "NaN",
    "%00",
    "a%00b",
    "%ff%fe",
    "%C0%AF",
    "..%2F..%2Fetc%2Fpasswd",
    "%E2%80%AE",
    "٣٣٣",
    "' OR '1'='1",
]


def marker(rng: random.Random) -> str:
    return "ZQX" + "".join(rng.choices(string.digits, k=9))


@dataclass
class Tally:
    """Counts of one HTTP sub-class."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    transport: int = 0
    echoed: list[str] = field(default_factory=list)  # kinds whose 4xx body repeated a submitted marker
    five_xx: list[str] = field(default_factory=list)  # kinds that got a 5xx (method path status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "4xx": sum(n for s, n in self.statuses.items() if 400 <= s < 500),
            "5xx": sum(n for s, n in self.statuses.items() if s >= 500),
            "2xx": sum(n for s, n in self.statuses.items() if s < 300),
            "429": self.statuses.get(429, 0),
            "413": self.statuses.get(413, 0),
            "transport_cut": self.transport,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "4xx_echoing_input": len(self.echoed),
            "echo_examples": self.echoed[:5],
            "5xx_examples": self.five_xx[:10],
        }


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str  # with {params}
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    has_body: bool
    public: bool  # no key needed (webhooks, health)


def operations(service: str, doc: dict[str, Any]) -> list[Operation]:
    out = []
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.get("parameters", [])
            out.append(
                Operation(
                    service,
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p.get("in") == "path"),
                    tuple(p["name"] for p in params if p.get("in") == "query"),
                    "requestBody" in op or method in ("post", "put", "patch"),
                    path.startswith(("/health", "/metrics")) or "/receipts/" in path,
                )
            )
    return out


def random_json(rng: random.Random, depth: int = 0, mark: str = "") -> Any:
    """A random JSON value (nested, with hostile strings), marked so echoes are found."""
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, -(2**63) - 1, 10**30, 1.5e308, 0.1])
    if kind in (3, 4):
        return rng.choice([mark, mark + "\x00", mark + "\u202e", mark * 50, "", "\ud7ff" + mark, " " + mark])
    if kind == 5:
        return [random_json(rng, depth + 1, mark) for _ in range(rng.randrange(4))]
    keys = ["id", "status", "phone", "nik", "entry", "changes", "value", "statuses", "messages", mark]
    return {rng.choice(keys): random_json(rng, depth + 1, mark) for _ in range(rng.randrange(1, 5))}


def whatsapp_like(rng: random.Random, mark: str) -> Any:
    """The WhatsApp Cloud API webhook's shape with one node of a random type."""
    status = {"id": mark, "status": rng.choice(["sent", "delivered", "read", "failed", mark]), "recipient_id": mark}
    message = {"from": rng.choice([mark, "62812\x003456", "+62" + "9" * 30]), "text": {"body": "STOP " + mark}}
    body: dict[str, Any] = {"entry": [{"changes": [{"value": {"statuses": [status], "messages": [message]}}]}]}
    path = rng.choice(
        [("entry",), ("entry", 0, "changes"), ("entry", 0, "changes", 0, "value"), ("entry", 0, "changes", 0)]
    )
    target: Any = body
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = random_json(rng, 2, mark)
    return body


def sms_like(rng: random.Random, mark: str) -> Any:
    shapes = [
        {"id": mark, "status": rng.choice(["DELIVRD", "UNDELIV", mark, 5, None])},
        {"reports": [{"message_id": random_json(rng, 3, mark), "status": random_json(rng, 3, mark)}]},
        {"inbound": [{"from": random_json(rng, 3, mark), "text": random_json(rng, 3, mark)}]},
        [random_json(rng, 2, mark)],
    ]
    return rng.choice(shapes)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Runner:
    """Sends requests, classifies the answers into a ``Tally`` per sub-class."""

    def __init__(self, client: httpx.AsyncClient, base: dict[str, str]) -> None:
        self.client = client
        self.base = base  # service -> base URL
        self.tallies: dict[str, Tally] = {}

    async def send(
        self,
        sub: str,
        service: str,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: dict[str, Any] | None = None,
        mark: str | None = None,
        timeout: float = 30,
    ) -> httpx.Response | None:
        tally = self.tallies.setdefault(sub, Tally())
        tally.sent += 1
        try:
            response = await self.client.request(
                method, self.base[service] + path, content=content, headers=headers, timeout=timeout
            )
        except (httpx.TransportError, httpx.InvalidURL, UnicodeError):
            tally.transport += 1
            return None
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.five_xx.append(f"{service} {method} {_shorten(path)} -> {response.status_code}")
        elif 400 <= response.status_code < 500 and mark and mark in response.text:
            tally.echoed.append(f"{service} {method} {_shorten(path)} -> {response.status_code}")
        return response


def _shorten(path: str) -> str:
    return re.sub(r"(.{60}).+", r"\1...", path)


def fill(path: str, params: tuple[str, ...], value: str) -> str:
    for name in params:
        path = path.replace("{" + name + "}", value)
    return path


async def malformed_ids(run: Runner, ops: list[Operation], headers: dict[str, str], rng: random.Random) -> None:
    for op in ops:
        if op.path_params:
            for bad in [*_BAD_IDS, marker(rng), marker(rng) + "%00"]:
                mark = bad if bad.startswith("ZQX") else None
                body = b"{}" if op.has_body else None
                await run.send(
                    "http: malformed ids", op.service, op.method, fill(op.path, op.path_params, bad),
                    content=body, headers={**headers, "content-type": "application/json"}, mark=mark,
                )  # fmt: skip
        for name in op.query_params:
            base = fill(op.path, op.path_params, "00000000-0000-4000-8000-000000000000")
            for bad in ["%00", "a%00", "9" * 30, "-1", "%ff", marker(rng), f"{marker(rng)}&{name}=x"]:
                mark = bad[:12] if bad.startswith("ZQX") else None
                await run.send("http: malformed query", op.service, op.method, f"{base}?{name}={bad}",
                               headers=headers, mark=mark)  # fmt: skip


async def oversized(run: Runner, ops: list[Operation], headers: dict[str, str], size: int, rng: random.Random) -> None:
    for op in ops:
        if not op.has_body or op.public:
            continue
        mark = marker(rng)
        body = b'{"note": "' + mark.encode() + b"A" * size + b'"}'
        path = fill(op.path, op.path_params, "00000000-0000-4000-8000-000000000000")
        for sub, with_key in (("http: oversized, authenticated", True), ("http: oversized, no key", False)):
            h = {**(headers if with_key else {}), "content-type": "application/json"}
            await run.send(sub, op.service, op.method, path, content=body, headers=h, mark=mark, timeout=60)


async def non_ascii_headers(run: Runner, ops: list[Operation], headers: dict[str, str], rng: random.Random) -> None:
    hostile = [b"\xff\xfe\xfd", "kunci-é".encode(), b"\xc3\x28", b"a\x7fb", "𝔨𝔢𝔶".encode()]
    for op in ops:
        path = fill(op.path, op.path_params, "00000000-0000-4000-8000-000000000000")
        for value in rng.sample(hostile, 2):
            h: dict[str, Any] = {"X-API-Key": value, "content-type": "application/json"}
            await run.send("http: non-ASCII headers", op.service, op.method, path, content=b"{}", headers=h)
            h = {**headers, "Idempotency-Key": value, "X-Hub-Signature-256": value, "Authorization": b"Bearer " + value}
            await run.send("http: non-ASCII headers", op.service, op.method, path, content=b"{}", headers=h)


async def random_bodies(run: Runner, ops: list[Operation], headers: dict[str, str], n: int, rng: random.Random) -> None:
    for op in ops:
        if not op.has_body or op.public:
            continue
        path = fill(op.path, op.path_params, "00000000-0000-4000-8000-000000000000")
        for _ in range(n):
            mark = marker(rng)
            raw = _dumps(random_json(rng, 0, mark))
            h = {**headers, "content-type": "application/json"}
            await run.send("http: random JSON bodies", op.service, op.method, path, content=raw, headers=h, mark=mark)


async def webhooks(run: Runner, secret: str, n: int, rng: random.Random) -> None:
    """Correctly signed but malformed provider callbacks, and badly signed ones (unauthenticated route)."""
    for channel, shape in (("whatsapp", whatsapp_like), ("sms_http", sms_like)):
        for i in range(n):
            mark = marker(rng)
            data = shape(rng, mark) if i % 2 == 0 else random_json(rng, 0, mark)
            raw = _dumps(data)
            if i % 7 == 3:
                raw = raw[: rng.randrange(1, max(2, len(raw)))]  # cut short: not JSON any more
            h = {"content-type": "application/json", "X-Hub-Signature-256": sign(secret, raw)}
            await run.send("http: signed malformed webhooks", "notification", "POST", f"/v1/receipts/{channel}",
                           content=raw, headers=h, mark=mark)  # fmt: skip
            h = {"content-type": "application/json", "X-Hub-Signature-256": "sha256=" + "0" * 64}
            await run.send("http: badly signed webhooks", "notification", "POST", f"/v1/receipts/{channel}",
                           content=raw, headers=h, mark=mark)  # fmt: skip
