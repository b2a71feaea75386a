"""The civil registry through the DCI standard (spdci "Registry core API" v1.0.0): search and death subscription.

Messages are signed envelopes (``shared.dci``). Look-ups (``CivilRegistry.prefetch``, then ``answer``):
- ``sync`` mode: ``POST /registry/sync/search`` answers the batch in the response (signed; verified here).
- ``async`` mode (the standard's usual flow): ``POST /registry/search`` is only acknowledged; every NIK of it waits
  (``registry_unavailable``, so its nomination is ``pending``) until the registry POSTs the signed
  ``/on-search`` callback (``api/dci.py``; ``handlers/dci.py`` stores the answers in ``registry_cache`` and makes the
  waiting nominations due at once); the service's retry job then decides them from the cache. A NIK asked and not
  answered within ``callback_wait_s`` is asked again.

Each search item: ``reference_id`` (ours, one per NIK), ``query_type`` ``idtype-value`` with ``{"type": "UIN",
"value": NIK}``, ``consent`` and ``authorize`` carrying the programme's purpose. A person record maps to the
domain's ``RegistryRecord`` as in ``person_from_dci``.

Deaths: ``ask_subscription`` asks for ``death`` events of the configured province (``/registry/subscribe``, answered by
``/on-subscribe``); each ``/notify`` naming a verified person becomes ``RegistryPersonUpdated(change="deceased")``
through the outbox, once per nomination (``snapshot_id`` 0: no snapshot was involved).

Callbacks are refused, changing nothing, when the signature does not verify (``SignatureRefused``) or when they are
addressed to another receiver (``check``, here), when the message id was accepted before (a replay) or when they
name a transaction we never started (``CallbackRefused``, in the handlers).
Outgoing calls share the HTTP adapter's guards: token bucket, circuit breaker, timeouts, retries with backoff.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import asyncpg
import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.verification.adapters.http import PREFETCH_KEEP_S
from services.verification.adapters.registry import (
    DEFINITE,
    Fetched,
    Lookup,
    LookupState,
    RegistryAnswer,
    as_answer,
    known,
    record_json,
)
from services.verification.adapters.resilience import CircuitBreaker, TokenBucket
from services.verification.domain import RegistryRecord, RegistryStatus
from services.verification.errors import CallbackRefused
from services.verification.repository import dci as dci_repo
from services.verification.repository import registry as repository
from shared import dci
from shared.contracts import Sex
from shared.db import Conn
from shared.logs import get_logger

log = get_logger(__name__)

_STATE_OF_STATUS: dict[RegistryStatus, LookupState] = {"HIDUP": "match", "MATI": "deceased", "TIDAK_AKTIF": "inactive"}
_STATUSES: dict[str, RegistryStatus] = {status: status for status in _STATE_OF_STATUS}
_SEX: dict[str, Sex] = {"male": "M", "female": "F"}
DEATH = "death"


class _Retryable(Exception):
    """Timeout, connection error, 5xx or 429."""


@dataclass(frozen=True)
class DciConfig:
    url: str
    sender_id: str
    receiver_id: str
    callback_base: str  # where the registry sends on-search, on-subscribe and notify (dci_api's prefix)
    mode: Literal["async", "sync"] = "async"
    purpose_code: str = "social-protection.enrolment"
    purpose_text: str = "Verifikasi peserta program BPJS Ketenagakerjaan pekerja rentan"
    subscribe_region: str = "64"  # province whose deaths are subscribed to
    timeout_s: float = 10.0
    rate_per_s: float = 5.0
    burst: int = 5
    attempts: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    breaker_failures: int = 5
    breaker_reset_s: float = 60.0
    cache_ttl_s: float = 7 * 24 * 3600.0
    callback_wait_s: float = 600.0
    batch_size: int = 100


def person_from_dci(record: Mapping[str, Any]) -> RegistryRecord:
    """A DCI person record (``dci_PersonRecord``) as the domain's record; ValueError/KeyError if unreadable.

    Indonesian names have no surname convention: the full name (NAMA_LGKP) travels as ``given_name``. The village
    code is ``address.region_code``; the KK number and a NIK's inactive state are Dukcapil extensions in
    ``additional_attributes`` (``no_kk``, ``nik_status`` TIDAK_AKTIF). A ``deathdate`` means deceased.
    """
    extra = {a["name"]: a["value"] for a in record.get("additional_attributes") or () if isinstance(a, Mapping)}
    name = record["name"]
    full_name = " ".join(str(name[k]) for k in ("given_name", "second_name", "sur_name") if name.get(k))
    status = _STATUSES.get("MATI" if record.get("deathdate") else str(extra.get("nik_status") or "HIDUP"))
    if status is None:
        raise ValueError("unknown nik_status")
    return RegistryRecord(
        nik=str(record["identifier"]),
        full_name=full_name,
        birth_date=date.fromisoformat(str(record["birthdate"])[:10]),
        sex=_SEX[str(record["sex"])],
        kel_code=str(record["address"]["region_code"]),
        status=status,
        no_kk=str(extra["no_kk"]) if extra.get("no_kk") else None,
    )


def interpret(item: Mapping[str, Any]) -> Lookup:
    """One ``search_response`` item as a state: succ with a record, succ with none (not found), or unavailable."""
    if item.get("status") != "succ":
        return Lookup("registry_unavailable", error=f"search {item.get('status_reason_code') or 'not successful'}")
    data = item.get("data") or {}
    records = data.get("reg_records") if isinstance(data, Mapping) else None
    if isinstance(records, Mapping):
        records = [records]
    if not records:
        return Lookup("no_match")
    try:
        record = person_from_dci(records[0])
    except (KeyError, ValueError, TypeError) as exc:
        return Lookup("registry_unavailable", error=f"unreadable record ({type(exc).__name__})")
    return Lookup(_STATE_OF_STATUS[record.status], record)


class DciRegistry:
    """``CivilRegistry`` over DCI, and the receiver of its callbacks. Create in the lifespan; ``aclose`` there."""

    def __init__(
        self,
        config: DciConfig,
        pool: asyncpg.Pool,
        signer: dci.Signer,
        verifier: dci.Verifier,
        *,
        client: httpx.AsyncClient | None = None,
        breaker: CircuitBreaker | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.config, self._pool, self.signer, self.verifier = config, pool, signer, verifier
        self._client = client or httpx.AsyncClient(base_url=config.url, timeout=config.timeout_s)
        self.breaker = breaker or CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self.bucket = bucket or TokenBucket(config.rate_per_s, config.burst)
        self.answered = asyncio.Event()  # set by each applied on-search: the retry job need not wait its poll
        self.calls = 0
        self.fetched = Fetched(max(config.cache_ttl_s, PREFETCH_KEEP_S))  # sync answers, for the transaction after

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------------------------------- look-ups
    async def prefetch(self, niks: Sequence[str]) -> None:
        """Search the NIKs without an answer: in sync mode the answers arrive now, in async mode by callback."""
        unique = sorted(set(niks))
        found = await known(self._pool, self.fetched, unique)
        asked = [n for n in unique if n not in found or found[n].state not in DEFINITE]
        for start in range(0, len(asked), self.config.batch_size):
            chunk = asked[start : start + self.config.batch_size]
            if self.config.mode == "sync":
                fresh = await self._sync_search(chunk)
                self.fetched.put(fresh)
                await self.remember(self._pool, {n: a for n, a in fresh.items() if a.state in DEFINITE})
            else:
                await self._async_search(chunk)

    async def answer(self, conn: Conn, niks: Sequence[str]) -> RegistryAnswer:
        unique = sorted(set(niks))
        return as_answer(await known(conn, self.fetched, unique), unique)

    async def lookup(self, niks: Sequence[str]) -> RegistryAnswer:
        """Ask and answer at once (outside any transaction: the yearly re-check, tests)."""
        await self.prefetch(niks)
        unique = sorted(set(niks))
        return as_answer(await known(self._pool, self.fetched, unique), unique)

    def _search_message(self, refs: Mapping[str, str]) -> dict[str, Any]:
        consent = dci.purpose(self.config.purpose_code, self.config.purpose_text)
        items = [
            {
                "reference_id": ref,
                "timestamp": dci.timestamp(),
                "search_criteria": {
                    "version": dci.SPEC_VERSION,
                    "reg_type": "ns:org:RegistryType:Civil",
                    "reg_record_type": "spdci-extensions-dci:Person",
                    "query_type": "idtype-value",
                    "query": {"type": "UIN", "value": nik},
                    "consent": consent,
                    "authorize": consent | {"@type": "Authorize"},
                },
            }
            for ref, nik in refs.items()
        ]
        return {"transaction_id": str(uuid.uuid4()), "search_request": items}

    async def _sync_search(self, niks: Sequence[str]) -> dict[str, Lookup]:
        refs = {str(uuid.uuid4()): nik for nik in niks}
        message = self._search_message(refs)
        header = dci.header("search", self.signer.sender_id, self.config.receiver_id, len(refs))
        body = await self._post("/registry/sync/search", self.signer.envelope(header, message))
        if isinstance(body, str):
            return {nik: Lookup("registry_unavailable", error=body) for nik in niks}
        try:
            self.verifier.verify(body)
        except dci.SignatureRefused as exc:
            log.warning("sync search answer refused", code=exc.code, reason=exc.message)
            return {nik: Lookup("registry_unavailable", error="answer signature refused") for nik in niks}
        answers = {nik: Lookup("registry_unavailable", error="not in the answer") for nik in niks}
        reply = body.get("message") or {}
        if reply.get("transaction_id") != message["transaction_id"]:
            return answers
        for item in reply.get("search_response") or ():
            nik = refs.get(str(item.get("reference_id")))
            if nik is not None:
                answers[nik] = interpret(item)
        return answers

    async def _async_search(self, niks: Sequence[str]) -> None:
        waiting = await dci_repo.open_searches(self._pool, niks, self.config.callback_wait_s)
        ask = [n for n in niks if n not in waiting]
        if not ask:
            return
        refs = {str(uuid.uuid4()): nik for nik in ask}
        message = self._search_message(refs)
        callback = f"{self.config.callback_base}/on-search"
        header = dci.header("search", self.signer.sender_id, self.config.receiver_id, len(refs), callback)
        # Recorded before sending: a callback faster than our own commit must find its transaction.
        await dci_repo.add_searches(self._pool, message["transaction_id"], refs)
        body = await self._post("/registry/search", self.signer.envelope(header, message))
        status = body.get("message", {}).get("ack_status") if isinstance(body, Mapping) else None
        if status != "ACK":
            async with self._pool.acquire() as conn:
                await dci_repo.mark_answered(conn, message["transaction_id"], list(refs))  # asked again next time
            log.warning("async search not acknowledged", niks=len(refs), answer=str(status or body)[:80])

    async def _post(self, path: str, envelope: Mapping[str, Any]) -> Any:
        """The JSON answer, or a short error text when the registry could not be reached or answered badly."""
        if not self.breaker.allow():
            return "circuit open"
        await self.bucket.acquire()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.attempts),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=self.config.backoff_max_s),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    self.calls += 1
                    try:
                        response = await self._client.post(path, json=envelope)
                    except httpx.TimeoutException:
                        raise _Retryable("timeout") from None
                    except httpx.TransportError as exc:
                        raise _Retryable(f"connection: {type(exc).__name__}") from None
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(f"HTTP {response.status_code}")
        except _Retryable as exc:
            self.breaker.record_failure()
            return str(exc)
        try:
            body = response.json()
        except ValueError:
            self.breaker.record_failure()
            return "answer is not JSON"
        if response.status_code != 200:
            self.breaker.record_failure()
            return f"HTTP {response.status_code}"
        self.breaker.record_success()
        return body

    async def remember(self, conn: Conn | asyncpg.Pool, answers: Mapping[str, Lookup]) -> None:
        """Cache definite answers (a callback's, inside its transaction; a sync search's, on the pool)."""
        rows = [(nik, a.state, record_json(a.record) if a.record else None) for nik, a in answers.items()]
        if rows:
            await repository.remember_answers(conn, rows, self.config.cache_ttl_s)

    # ----------------------------------------------------------------------------------------- subscription
    async def ask_subscription(self, transaction_id: str) -> bool:
        """Ask for death events of the configured province (the subscription is recorded by the caller first);
        True when the registry acknowledged."""
        message = {
            "transaction_id": transaction_id,
            "subscribe_request": [
                {
                    "reference_id": str(uuid.uuid4()),
                    "timestamp": dci.timestamp(),
                    "subscribe_criteria": {
                        "version": dci.SPEC_VERSION,
                        "reg_type": "ns:org:RegistryType:Civil",
                        "reg_event_type": DEATH,
                        "filter_type": "predicate",
                        "filter": [
                            {
                                "attribute_name": "province_code",
                                "operator": "eq",
                                "attribute_value": self.config.subscribe_region,
                            }
                        ],
                        "notify_record_type": "spdci-extensions-dci:Person",
                        "authorize": dci.purpose(self.config.purpose_code, self.config.purpose_text),
                    },
                }
            ],
        }
        header = dci.header(
            "subscribe", self.signer.sender_id, self.config.receiver_id, 1, f"{self.config.callback_base}/on-subscribe"
        )
        body = await self._post("/registry/subscribe", self.signer.envelope(header, message))
        if isinstance(body, Mapping) and body.get("message", {}).get("ack_status") == "ACK":
            return True
        log.warning("death subscription not acknowledged", answer=str(body)[:80])
        return False

    # -------------------------------------------------------------------------------------------- callbacks
    def check(self, body: Mapping[str, Any], action: str) -> str:
        """Verify a callback's signature and that it is an ``action`` addressed to us; returns its sender."""
        sender = self.verifier.verify(body)
        header = body["header"]
        if header.get("action") != action:
            raise CallbackRefused("rjct.action.invalid", f"expected action {action}", 400)
        if header.get("receiver_id") != self.signer.sender_id:
            # Signed by the registry, but for another of its subscribers: not ours to apply.
            raise CallbackRefused("rjct.receiver_id.invalid", "this message is addressed to another receiver", 400)
        return sender
