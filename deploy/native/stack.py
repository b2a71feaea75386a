"""The native local stack: PostgreSQL, Kafka and the services (the four of the pipeline, plus reporting) as
supervised background processes.

Everything an instance owns lives under ``cfg.stack_dir``: ``logs/<component>.log``, ``run/<component>.pid``,
``kafka/`` and ``postgres/``. A service may run as several replicas (``cfg.replicas``): replica 1 keeps the service's
names and port, replica k > 1 is the component ``<service>-<k>`` (``run/<service>-<k>.pid``,
``logs/<service>-<k>.log``) on the service's port + ``cfg.replica_port_step`` * (k - 1); all replicas share the
service's database and consumer groups (docs/DEPLOYMENT.md, "Replicas on the native stack").

Functions are synchronous (the CLI's needs); they may be called from inside a running event loop too (the async
parts then run on a helper thread). Importing this module has no side effects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from deploy.native import apikeys, kafka, keycloak, postgres
from deploy.native.acls import principals
from deploy.native.config import (
    REPO_ROOT,
    SERVICES,
    StackConfig,
    StackError,
    StackTestConfig,
    instance_name,
    parse_instance,
)
from deploy.native.procs import is_terminating, running_pid, send_signal, spawn, tail, terminate, wait_gone
from shared import signing, topology

__all__ = [
    "SERVICES",
    "ComponentStatus",
    "StackConfig",
    "StackError",
    "StackTestConfig",
    "database_url",
    "event_signers",
    "kill_service",
    "log_file",
    "service_env",
    "start_idp",
    "start_infra",
    "start_kafka",
    "start_service",
    "start_services",
    "status",
    "stop_infra",
    "stop_service",
    "stop_services",
    "wait_idp",
]

log = logging.getLogger("payung.stack")
T = TypeVar("T")

# The module run as ``python -m <module> migrate|serve``; also identifies the process behind a pid file.
SERVICE_MODULE = "services.{name}"
SERVICE_STOP_TIMEOUT = 30.0
READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class ComponentStatus:
    """One line of :func:`status`."""

    name: str
    running: bool
    pid: int | None
    address: str


def _run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also when the caller is already inside an event loop (pytest-asyncio)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def database_url(cfg: StackConfig, name: str) -> str:
    """The DSN of database ``name`` for the application role, e.g. ``postgresql://payung:…@127.0.0.1:5432/name``."""
    user = quote(cfg.pg_user, safe="")
    password = quote(cfg.pg_password.get_secret_value(), safe="")
    return f"postgresql://{user}:{password}@{cfg.host}:{cfg.pg_port}/{name}"


def service_env(cfg: StackConfig, name: str, replica: int = 1) -> dict[str, str]:
    """The ``PAYUNG_*`` environment variables replica ``replica`` of service ``name`` is started with."""
    env = {
        "PAYUNG_DATABASE_URL": database_url(cfg, name),
        "PAYUNG_KAFKA_BOOTSTRAP": cfg.kafka_bootstrap,
        "PAYUNG_HTTP_HOST": cfg.host,
        "PAYUNG_HTTP_PORT": str(cfg.service_port(name, replica)),
        "PAYUNG_TOPIC_PREFIX": cfg.topic_prefix,
    }
    if cfg.kafka_sasl:
        # The service's own principal: its ACLs allow its topics and consumer groups only (deploy/native/acls.py).
        options = kafka.client_options(cfg, name)
        env |= {
            "PAYUNG_KAFKA_SECURITY_PROTOCOL": options["security_protocol"],
            "PAYUNG_KAFKA_SASL_MECHANISM": options["sasl_mechanism"],
            "PAYUNG_KAFKA_USERNAME": options["sasl_plain_username"],
            "PAYUNG_KAFKA_PASSWORD": options["sasl_plain_password"],
        }
    # The local stack's demo, benchmark and tests push thousands of requests with one key and send many messages
    # to one synthetic official: the edge's per-key limit and notification's per-recipient limit are raised here
    # (their defaults, for deployments, are in shared/settings.py and services/notification/settings.py).
    env["PAYUNG_HTTP_RATE_LIMIT"] = os.environ.get("PAYUNG_HTTP_RATE_LIMIT", "1000000/minute")
    if name == "notification":
        env["PAYUNG_RECIPIENT_DAILY_LIMIT"] = os.environ.get("PAYUNG_RECIPIENT_DAILY_LIMIT", "0")
    # Who may call the HTTP APIs: the operator's key file, else this instance's local keys (deploy/native/apikeys.py).
    env["PAYUNG_API_KEYS_FILE"] = os.environ.get("PAYUNG_API_KEYS_FILE") or str(_local_api_keys(cfg))
    # Authentic events (shared/signing.py): this service's own Ed25519 key, and every producer's public key.
    keys_dir = local_event_keys(cfg)
    if (keys_dir / f"{name}.key").exists():
        env["PAYUNG_EVENT_SIGNING_KEY_FILE"] = str(keys_dir / f"{name}.key")
    env["PAYUNG_EVENT_TRUSTED_KEYS_FILE"] = str(keys_dir / "trusted.json")
    if name == "nomination":
        env["PAYUNG_PERSON_KEY_SECRET"] = os.environ.get("PAYUNG_PERSON_KEY_SECRET") or _local_secret(cfg)
    # People's sign-in on the pages (shared/websession.py) through this instance's Keycloak, unless PAYUNG_IDP=none
    # or the operator configured a provider of their own (PAYUNG_OIDC_ISSUER in the environment wins).
    if not os.environ.get("PAYUNG_OIDC_ISSUER"):
        env |= keycloak.service_env(cfg, name)
    if name in ("nomination", "notification"):
        # what a membership card's QR code opens: nomination's self-check page on this instance
        nomination_url = f"http://{cfg.host}:{cfg.service_port('nomination')}"
        env["PAYUNG_SELF_CHECK_URL"] = os.environ.get("PAYUNG_SELF_CHECK_URL") or nomination_url
    if name == "notification":
        env["PAYUNG_LOCAL_OUTBOX_FILE"] = str(cfg.stack_dir / "messages.jsonl")
    return env


def _local_api_keys(cfg: StackConfig) -> Path:
    apikeys.ensure_local_keys(cfg.stack_dir)
    return apikeys.hashes_file(cfg.stack_dir)


def _local_secret(cfg: StackConfig) -> str:
    """This instance's person-key secret: random, made once, kept with the data it keys (changing it would
    give every person a new Kafka key and split their history across partitions)."""
    path = cfg.stack_dir / "person-key-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def local_event_keys(cfg: StackConfig) -> Path:
    """This instance's event keys: one Ed25519 key pair per producing service, made once (``<service>.key``,
    0600), and ``trusted.json`` with every public key (``PAYUNG_EVENT_TRUSTED_KEYS_FILE``). Returns the directory."""
    keys_dir = cfg.stack_dir / "event-keys"
    trusted_file = keys_dir / "trusted.json"
    if trusted_file.exists():
        return keys_dir
    keys_dir.mkdir(parents=True, exist_ok=True)
    keys_dir.chmod(0o700)
    trusted: dict[str, dict[str, str]] = {}
    for service in sorted(set(topology.owners().values())):
        signer = signing.generate(f"{service}-{secrets.token_hex(4)}")
        _write_private(keys_dir / f"{service}.key", signer.secret_text())
        trusted |= signing.trusted_entry(signer, service)
    _write_private(trusted_file, json.dumps(trusted, indent=2))
    return keys_dir


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def event_signers(cfg: StackConfig) -> dict[str, signing.Signer]:
    """The instance's signing keys by service: for tools and tests that write events straight to Kafka as a
    producer would (the benchmark's baseline, end-to-end tests of what consumers do with them)."""
    keys_dir = local_event_keys(cfg)
    return {p.stem: signing.Signer.parse(p.read_text()) for p in sorted(keys_dir.glob("*.key"))}


async def _ensure_topics(cfg: StackConfig, within: float = 30) -> list[str]:
    """Create the topics of shared/topics.py, retrying until they are all listed.

    ``ensure_topics`` does not check the per-topic error codes, and a freshly unfenced broker can still
    refuse a creation, so success is judged by listing the topics afterwards.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.topics import all_topics, ensure_topics

    wanted = {spec.name for spec in all_topics(cfg.topic_prefix)}
    created: list[str] = []
    deadline = time.monotonic() + within
    options: dict[str, Any] = kafka.client_options(cfg)  # the admin principal when SASL is on
    while True:
        created += await ensure_topics(cfg.kafka_bootstrap, cfg.topic_prefix, **options)
        admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, **options)
        await admin.start()
        try:
            missing = wanted - set(await admin.list_topics())
        finally:
            await admin.close()
        if not missing:
            return sorted(set(created))
        if time.monotonic() >= deadline:
            raise StackError(f"topics still missing after {within:.0f} s: {sorted(missing)}")
        await asyncio.sleep(1)


def start_infra(cfg: StackConfig) -> None:
    """Start PostgreSQL (role and databases ensured) and Kafka (topics ensured); no-op for what already runs.

    Kafka's JVM warms up while Postgres starts, which saves a few seconds on two cores.
    """
    t0 = time.monotonic()
    kafka.ensure_libs()
    kafka_pid = kafka.start(cfg)
    postgres.start(cfg)
    created_dbs = _run_async(postgres.ensure_role_and_databases(cfg))
    log.info(
        "postgres ready on %s:%s in %.1f s%s",
        cfg.host,
        cfg.pg_port,
        time.monotonic() - t0,
        f" (created databases {', '.join(created_dbs)})" if created_dbs else "",
    )
    _kafka_ready(cfg, kafka_pid, t0)


def start_kafka(cfg: StackConfig) -> None:
    """Start Kafka alone (topics ensured, and ACLs when ``cfg.kafka_sasl``); no-op if it runs."""
    t0 = time.monotonic()
    kafka.ensure_libs()
    _kafka_ready(cfg, kafka.start(cfg), t0)


def _kafka_ready(cfg: StackConfig, kafka_pid: int, t0: float) -> None:
    _run_async(kafka.wait_ready(cfg, kafka_pid, READY_TIMEOUT))
    log.info("kafka ready on %s in %.1f s", cfg.kafka_bootstrap, time.monotonic() - t0)
    created = _run_async(_ensure_topics(cfg))
    log.info("topics: %d created, the others were there", len(created))
    if cfg.kafka_sasl:
        log.info("kafka ACLs: %d ensured for %s", _run_async(kafka.apply_acls(cfg)), ", ".join(principals()))


def start_idp(cfg: StackConfig) -> int | None:
    """Spawn this instance's Keycloak (fetched and unpacked first if needed) without waiting; None if PAYUNG_IDP=none.

    It takes about a minute on two cores, so ``./payung up`` spawns it first and waits for it last (``wait_idp``)."""
    if not keycloak.enabled(cfg):
        return None
    return keycloak.start(cfg)


def wait_idp(cfg: StackConfig, pid: int) -> None:
    waited = keycloak.wait_ready(cfg, pid)
    log.info("keycloak ready on %s (waited %.1f s more)", keycloak.issuer(cfg), waited)


def stop_infra(cfg: StackConfig) -> None:
    """Stop Keycloak, Kafka (controlled shutdown) then PostgreSQL (``pg_ctl stop -m fast``). Services first."""
    if keycloak.stop(cfg):
        log.info("keycloak stopped")
    if kafka.stop(cfg):
        log.info("kafka stopped")
    if postgres.stop(cfg):
        log.info("postgres stopped")


def _pid_file(cfg: StackConfig, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def _log_file(cfg: StackConfig, name: str) -> Path:
    return cfg.logs_dir / f"{name}.log"


def _service_pid(cfg: StackConfig, name: str, replica: int = 1) -> int | None:
    return running_pid(_pid_file(cfg, instance_name(name, replica)), SERVICE_MODULE.format(name=name))


def _process_env(cfg: StackConfig, name: str, replica: int, extra_env: Mapping[str, str] | None) -> dict[str, str]:
    # Unbuffered so that the log file shows a crash's last words. The replica's own port wins over a caller's
    # PAYUNG_HTTP_PORT (the e2e tests pass the service's environment, port included, to every replica).
    port = {"PAYUNG_HTTP_PORT": str(cfg.service_port(name, replica))}
    return {**os.environ, "PYTHONUNBUFFERED": "1", **service_env(cfg, name, replica), **(extra_env or {}), **port}


def _recent_log(cfg: StackConfig, name: str) -> str:
    """The service's log since its last migrate: what a failure report needs, not earlier runs."""
    text = tail(_log_file(cfg, name), 80)
    start = text.rfind("===== migrate")
    return text[start:] if start >= 0 else text


def _migrate(cfg: StackConfig, name: str, env: Mapping[str, str], instance: str) -> None:
    """``python -m services.<name> migrate``, synchronously; its output is kept in the service's log."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", SERVICE_MODULE.format(name=name), "migrate"],
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    with _log_file(cfg, instance).open("a") as f:
        f.write(f"\n===== migrate exited {result.returncode}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        raise StackError(f"{name}: migrate exited {result.returncode}:\n{(result.stdout + result.stderr)[-3000:]}")


def _spawn_service(cfg: StackConfig, name: str, extra_env: Mapping[str, str] | None, replica: int = 1) -> int:
    instance = instance_name(name, replica)
    pid = _service_pid(cfg, name, replica)
    if pid is not None:
        log.info("%s already running (pid %s)", instance, pid)
        return pid
    env = _process_env(cfg, name, replica, extra_env)
    if replica == 1:  # the schema is the service's, not a replica's: replicas > 1 start on it as it is
        _migrate(cfg, name, env, instance)
    return spawn(
        [sys.executable, "-m", SERVICE_MODULE.format(name=name), "serve"],
        log_path=_log_file(cfg, instance),
        pid_file=_pid_file(cfg, instance),
        env=env,
        cwd=REPO_ROOT,
    )


def _wait_ready(cfg: StackConfig, name: str, pid: int, timeout: float = READY_TIMEOUT, replica: int = 1) -> None:
    url = f"http://{cfg.host}:{cfg.service_port(name, replica)}/health/ready"
    deadline = time.monotonic() + timeout
    last = "no answer"
    instance = instance_name(name, replica)
    while True:
        if _service_pid(cfg, name, replica) != pid:
            raise StackError(
                f"{instance} exited while starting; {_log_file(cfg, instance)}:\n{_recent_log(cfg, instance)}"
            )
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        if time.monotonic() >= deadline:
            raise StackError(
                f"{instance} not ready after {timeout:.0f} s ({url}: {last}); "
                f"{_log_file(cfg, instance)}:\n{_recent_log(cfg, instance)}"
            )
        time.sleep(0.3)


def start_service(cfg: StackConfig, name: str, extra_env: Mapping[str, str] | None = None, replica: int = 1) -> int:
    """Migrate and start one service (or replica ``replica`` of it), wait for ``/health/ready``; returns its pid."""
    cfg.service_port(name)  # validates the name
    pid = _spawn_service(cfg, name, extra_env, replica)
    _wait_ready(cfg, name, pid, replica=replica)
    return pid


def start_services(
    cfg: StackConfig,
    extra_env: Mapping[str, str] | None = None,
    service_envs: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, int]:
    """Migrate and start every service, each with its ``cfg.replicas`` (all spawned before waiting, so they warm
    up in parallel; replicas 1 first, so every migration has run before a replica > 1 starts). Keyed by instance.

    ``service_envs`` adds a service's own variables (by service name) on top of ``extra_env`` (the e2e tests)."""
    t0 = time.monotonic()
    envs = {n: {**(extra_env or {}), **(service_envs or {}).get(n, {})} for n in SERVICES}
    pids = {instance_name(n, k): _spawn_service(cfg, n, envs[n], k) for n, k in cfg.instances()}
    for instance, pid in pids.items():
        name, replica = parse_instance(instance)
        _wait_ready(cfg, name, pid, replica=replica)
        port = cfg.service_port(name, replica)
        log.info("%s ready on http://%s:%s (%.1f s)", instance, cfg.host, port, time.monotonic() - t0)
    return pids


def stop_service(cfg: StackConfig, name: str, timeout: float = SERVICE_STOP_TIMEOUT, replica: int = 1) -> bool:
    """SIGTERM (graceful shutdown), SIGKILL after ``timeout`` s. False if it was not running."""
    pid = _service_pid(cfg, name, replica)
    if pid is None:
        return False
    instance = instance_name(name, replica)
    if not terminate(pid, timeout):
        log.warning("%s did not stop within %.0f s and was killed", instance, timeout)
    _pid_file(cfg, instance).unlink(missing_ok=True)
    return True


def _known_instances(cfg: StackConfig) -> list[tuple[str, int]]:
    """The configured instances plus any replica with a pid file (started with more replicas than configured now:
    ``./payung up --replicas verification=3`` then a plain ``./payung down`` stops all three)."""
    known = cfg.instances()
    for pid_file in sorted(cfg.run_dir.glob("*-*.pid")):
        try:
            found = parse_instance(pid_file.stem)
        except StackError:
            continue  # not a service's replica
        if found not in known:
            known.append(found)
    return known


def stop_services(cfg: StackConfig, timeout: float = SERVICE_STOP_TIMEOUT) -> list[str]:
    """Stop every running service and replica: all get SIGTERM at once, stragglers SIGKILL after ``timeout`` s."""
    pids = {instance_name(n, k): pid for n, k in _known_instances(cfg) if (pid := _service_pid(cfg, n, k)) is not None}
    for pid in pids.values():
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for name, pid in pids.items():
        if not wait_gone(pid, max(0.0, deadline - time.monotonic())):
            log.warning("%s did not stop within %.0f s and was killed", name, timeout)
            send_signal(pid, signal.SIGKILL)
            wait_gone(pid, 10)
        _pid_file(cfg, name).unlink(missing_ok=True)
    return list(pids)


def kill_service(
    cfg: StackConfig, name: str, sig: int = signal.SIGKILL, timeout: float = 10.0, replica: int = 1
) -> bool:
    """Send ``sig`` to a service's (or one replica's) process group (fault injection: SIGKILL, SIGSTOP, ...).

    For terminating signals, waits up to ``timeout`` s for the exit and returns whether the process is gone;
    for others (SIGSTOP/SIGCONT) returns False right away. Also False if the service was not running.
    """
    pid = _service_pid(cfg, name, replica)
    if pid is None:
        return False
    send_signal(pid, sig)
    if not is_terminating(sig):
        return False
    gone = wait_gone(pid, timeout)
    if gone:
        _pid_file(cfg, instance_name(name, replica)).unlink(missing_ok=True)
    return gone


def status(cfg: StackConfig) -> list[ComponentStatus]:
    """Running or stopped, pid and address of PostgreSQL, Kafka and each service."""
    pg_pid = postgres.running_pid(cfg)
    kafka_pid = kafka.current_pid(cfg)
    rows = [
        ComponentStatus("postgres", pg_pid is not None, pg_pid, f"{cfg.host}:{cfg.pg_port}"),
        ComponentStatus("kafka", kafka_pid is not None, kafka_pid, cfg.kafka_bootstrap),
    ]
    for name, replica in sorted(_known_instances(cfg), key=lambda i: (SERVICES.index(i[0]), i[1])):
        pid = _service_pid(cfg, name, replica)
        address = f"http://{cfg.host}:{cfg.service_port(name, replica)}"
        rows.append(ComponentStatus(instance_name(name, replica), pid is not None, pid, address))
    if keycloak.enabled(cfg) or keycloak.current_pid(cfg) is not None:
        kc_pid = keycloak.current_pid(cfg)
        rows.append(ComponentStatus("keycloak", kc_pid is not None, kc_pid, keycloak.issuer(cfg)))
    return rows


def log_file(cfg: StackConfig, component: str) -> Path:
    """The log file of ``component`` (postgres, kafka, keycloak, a service name or a replica's, ``verification-2``)."""
    if component not in ("postgres", "kafka", "keycloak"):
        try:
            parse_instance(component)
        except StackError:
            known = f"postgres, kafka, keycloak, {', '.join(SERVICES)}, <service>-<k> (a replica)"
            raise StackError(f"unknown component {component!r}; known: {known}") from None
    return _log_file(cfg, component)
