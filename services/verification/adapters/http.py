"""The civil registry as a Dukcapil-style web service: one POST per NIK, answers and errors as JSON text.

Request: ``POST {url}/nik`` with ``{"NIK", "user_id", "password", "ip_user"}``. Answer: ``{"content": [row]}`` where
the row holds the Dukcapil fields (NIK, NO_KK, NAMA_LGKP, TGL_LHR, JENIS_KLMIN, KEL_CODE, STATUS, ...) or a
``RESPON`` text for an error: ``not found`` (a definite answer: no record), ``login failed``, ``IP not allowed``,
``daily quota exhausted`` (the registry cannot answer now). There is no public specification: field names follow
what agencies observe, and the texts are matched loosely (case, surrounding words).

Each look-up ends in one explicit state (``registry.LookupState``). Guards, in the order they apply: answers cached
in ``registry_cache`` until they expire (definite answers only); a circuit breaker that stops calling a registry
that keeps failing (every NIK is ``registry_unavailable`` at once while it is open); a token bucket (the agreed rate
limit); per-request timeouts; retries with exponential backoff (tenacity) for timeouts, connection errors, 5xx and
429. Whatever is still unanswered is ``registry_unavailable``: those nominations wait and are retried later, never
rejected (see ``handlers``).

``prefetch`` does all of that before the consumer's transaction; ``answer`` reads what it learnt (and the cache).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.verification.adapters.registry import (
    DEFINITE,
    Fetched,
    Lookup,
    LookupState,
    RegistryAnswer,
    as_answer,
    known,
    record_json,
    to_record,
)
from services.verification.adapters.resilience import CircuitBreaker, TokenBucket
from services.verification.repository import registry as repository
from shared.db import Conn
from shared.logs import get_logger

log = get_logger(__name__)

# error text (lower-cased, matched as a substring) -> state; anything else unexpected is "registry_unavailable"
ERROR_TEXTS: dict[str, LookupState] = {
    "not found": "no_match",
    "tidak ditemukan": "no_match",  # the Indonesian wording some deployments return
    "login failed": "registry_unavailable",
    "ip not allowed": "registry_unavailable",
    "daily quota exhausted": "registry_unavailable",
    "quota": "registry_unavailable",
}
_STATE_OF_STATUS: dict[str, LookupState] = {"HIDUP": "match", "MATI": "deceased", "TIDAK_AKTIF": "inactive"}


@dataclass(frozen=True)
class HttpRegistryConfig:
    url: str
    user_id: str
    password: str
    ip_user: str = ""
    timeout_s: float = 10.0
    rate_per_s: float = 5.0
    burst: int = 5
    concurrency: int = 4
    attempts: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    breaker_failures: int = 5
    breaker_reset_s: float = 60.0
    cache_ttl_s: float = 7 * 24 * 3600.0


# An answer fetched for a batch serves the batch's transaction, whatever the cache's time to live.
PREFETCH_KEEP_S = 300.0


class _Retryable(Exception):
    """A failure worth another attempt: timeout, connection error, 5xx, 429."""


def interpret(body: Any) -> Lookup:
    """One answer body as a state (pure; the error texts of the module docstring)."""
    rows = body.get("content") if isinstance(body, Mapping) else None
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], Mapping):
        return Lookup("registry_unavailable", error="unexpected answer shape")
    row = rows[0]
    respon = row.get("RESPON") or row.get("RESPONSE")
    if respon:
        text = str(respon).lower()
        for fragment, state in ERROR_TEXTS.items():
            if fragment in text:
                return Lookup(state, error=text if state == "registry_unavailable" else "")
        return Lookup("registry_unavailable", error=f"unknown answer {text[:60]!r}")
    try:
        fields = {k.lower(): v for k, v in row.items()}
        fields["tgl_lhr"] = _date(str(fields["tgl_lhr"]))
        record = to_record(fields)
    except (KeyError, ValueError) as exc:
        return Lookup("registry_unavailable", error=f"unreadable record ({type(exc).__name__})")
    return Lookup(_STATE_OF_STATUS.get(record.status, "registry_unavailable"), record)


def _date(text: str) -> date:
    """TGL_LHR as ISO (1990-01-05) or as Dukcapil writes it (05-01-1990)."""
    if len(text) == 10 and text[2] == "-" and text[5] == "-":
        return datetime.strptime(text, "%d-%m-%Y").date()
    return date.fromisoformat(text)


class HttpRegistry:
    """``CivilRegistry`` over HTTP. Create in the service's lifespan; ``aclose`` it there."""

    def __init__(
        self,
        config: HttpRegistryConfig,
        pool: asyncpg.Pool | None,
        client: httpx.AsyncClient | None = None,
        breaker: CircuitBreaker | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.config = config
        self._pool = pool
        self._client = client or httpx.AsyncClient(base_url=config.url, timeout=config.timeout_s)
        self.breaker = breaker or CircuitBreaker(config.breaker_failures, config.breaker_reset_s)
        self.bucket = bucket or TokenBucket(config.rate_per_s, config.burst)
        self._concurrency = asyncio.Semaphore(config.concurrency)
        self.calls = 0  # requests sent (a figure for the health endpoint and the tests)
        # answers of the last prefetches, for the transaction that follows (even when the cache keeps nothing)
        self.fetched = Fetched(max(config.cache_ttl_s, PREFETCH_KEEP_S))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def prefetch(self, niks: Sequence[str]) -> None:
        unique = sorted(set(niks))
        cached = await self._cached(unique)
        asked = [n for n in unique if n not in cached]
        answers = await asyncio.gather(*(self._guarded(n) for n in asked))
        fresh = dict(zip(asked, answers, strict=True))
        self.fetched.put(fresh)
        await self._remember({n: a for n, a in fresh.items() if a.state in DEFINITE})
        errors = {a.error for a in fresh.values() if a.error}
        if errors:
            log.warning("civil registry could not answer", niks=sum(a.error != "" for a in fresh.values()),
                        errors=sorted(errors)[:5], breaker=self.breaker.state)  # fmt: skip

    async def answer(self, conn: Conn, niks: Sequence[str]) -> RegistryAnswer:
        unique = sorted(set(niks))
        return as_answer(await known(conn if self._pool is not None else None, self.fetched, unique), unique)

    async def lookup(self, niks: Sequence[str]) -> RegistryAnswer:
        """Ask and answer at once (outside any transaction: the yearly re-check, tests)."""
        await self.prefetch(niks)
        unique = sorted(set(niks))
        return as_answer(await known(self._pool, self.fetched, unique), unique)

    async def _guarded(self, nik: str) -> Lookup:
        async with self._concurrency:
            if not self.breaker.allow():
                return Lookup("registry_unavailable", error="circuit open")
            await self.bucket.acquire()
            try:
                answer = await self._ask(nik)
            except _Retryable as exc:
                self.breaker.record_failure()
                return Lookup("registry_unavailable", error=str(exc))
            if answer.state == "registry_unavailable":
                self.breaker.record_failure()  # refused logins and exhausted quotas stop the calls too
            else:
                self.breaker.record_success()
            return answer

    async def _ask(self, nik: str) -> Lookup:
        body = {"NIK": nik, "user_id": self.config.user_id, "password": self.config.password}
        body["ip_user"] = self.config.ip_user
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.config.attempts),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=self.config.backoff_max_s),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                self.calls += 1
                try:
                    response = await self._client.post("/nik", json=body)
                except httpx.TimeoutException:
                    raise _Retryable("timeout") from None
                except httpx.TransportError as exc:
                    raise _Retryable(f"connection: {type(exc).__name__}") from None
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    return Lookup("registry_unavailable", error=f"HTTP {response.status_code}")
                try:
                    return interpret(response.json())
                except ValueError:
                    return Lookup("registry_unavailable", error="answer is not JSON")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _cached(self, niks: Sequence[str]) -> dict[str, Lookup]:
        """The NIKs with a definite answer already (fetched a moment ago, or in the cache table)."""
        found = await known(self._pool, self.fetched, niks)
        return {n: a for n, a in found.items() if a.state in DEFINITE}

    async def _remember(self, answers: Mapping[str, Lookup]) -> None:
        if self._pool is None or not answers:
            return
        rows = [(nik, a.state, record_json(a.record) if a.record else None) for nik, a in answers.items()]
        await repository.remember_answers(self._pool, rows, self.config.cache_ttl_s)
