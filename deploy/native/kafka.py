"""A single-node KRaft Kafka (combined broker and controller) run from Maven Central jars, no Docker needed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from deploy.native.acls import ADMIN_USER, principals, service_acls
from deploy.native.config import KAFKA_LIBS_DIR, KAFKA_LOG4J, KAFKA_POM, REPO_ROOT, StackConfig, StackError
from deploy.native.procs import is_alive, port_open, running_pid, spawn, tail, terminate
from shared.topics import MAX_REQUEST_BYTES

log = logging.getLogger("payung.stack")

MAIN_CLASS = "kafka.Kafka"
SASL_MECHANISM = "SCRAM-SHA-512"
CONTROLLER_SASL_MECHANISM = "PLAIN"
JVM_OPTS = ("-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")
_STAMP = ".pom-sha256"


def pid_file(cfg: StackConfig) -> Path:
    return cfg.run_dir / "kafka.pid"


def log_path(cfg: StackConfig) -> Path:
    return cfg.logs_dir / "kafka.log"


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise StackError("java not found: install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)")
    return java


def ensure_libs() -> Path:
    """Fetch the broker's jars with Maven into ``.stack/kafka-libs`` unless the cached copy matches the pom.

    The stamp holds the pom's hash and is written last, so an interrupted download is redone next time.
    """
    digest = hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()
    stamp = KAFKA_LIBS_DIR / _STAMP
    if stamp.exists() and stamp.read_text().strip() == digest:
        return KAFKA_LIBS_DIR
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn not found: install Maven (e.g. apt-get install maven) to fetch the Kafka jars")
    log.info("fetching Kafka jars from Maven Central into %s", KAFKA_LIBS_DIR)
    t0 = time.monotonic()
    tmp = KAFKA_LIBS_DIR.with_name(KAFKA_LIBS_DIR.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    result = subprocess.run(  # noqa: S603
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
            "-DincludeScope=runtime",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
        raise StackError(f"mvn could not fetch the Kafka jars:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    shutil.rmtree(KAFKA_LIBS_DIR, ignore_errors=True)
    tmp.rename(KAFKA_LIBS_DIR)
    stamp.write_text(digest + "\n")
    log.info("fetched %d jars in %.1f s", len(list(KAFKA_LIBS_DIR.glob("*.jar"))), time.monotonic() - t0)
    return KAFKA_LIBS_DIR


def _cluster_id(cfg: StackConfig) -> str:
    """Generated once per instance and kept, like ``kafka-storage.sh random-uuid`` but without a JVM start."""
    path = cfg.kafka_dir / "cluster-id"
    if path.exists():
        return path.read_text().strip()
    while True:
        # Kafka's Uuid.randomUuid() in its base64url form; it never hands out ids starting with '-'.
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            break
    path.write_text(cid + "\n")
    return cid


def write_config(cfg: StackConfig) -> Path:
    """Write ``server.properties`` for this instance (regenerated on every start, so settings changes apply)."""
    _private_dirs(cfg)
    host, port, cport = cfg.host, cfg.kafka_port, cfg.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{cport}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        **(_sasl_props(cfg) if cfg.kafka_sasl else {}),
        "log.dirs": str(cfg.kafka_dir / "data"),
        "num.partitions": "6",
        # Topics are declared in shared/topics.py; a typo in a topic name must fail, not create a topic.
        "auto.create.topics.enable": "false",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # The 3 s default delays every new consumer group: slow tests for nothing on a single node.
        "group.initial.rebalance.delay.ms": "0",
        # Sizes from shared/topics.py: every topic sets its own max.message.bytes (a dead-letter topic's is its
        # source's plus the dead-letter headroom); the broker default and replication fetches allow the largest.
        "message.max.bytes": str(MAX_REQUEST_BYTES),
        "replica.fetch.max.bytes": str(MAX_REQUEST_BYTES),
        "replica.fetch.response.max.bytes": str(max(MAX_REQUEST_BYTES, 10 * 1024 * 1024)),
    }
    path = cfg.kafka_dir / "server.properties"
    # With SASL on it holds the super user's password: owner only, from the first byte (never world-readable).
    _write_private(
        path,
        "# Generated by deploy/native/kafka.py; edits are overwritten.\n"
        + "".join(f"{k}={v}\n" for k, v in props.items()),
    )
    return path


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, also when the file existed with a wider mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _private_dirs(cfg: StackConfig) -> None:
    """The instance's Kafka directory and its log directory (every event, personal data included): owner only."""
    for path in (cfg.kafka_dir, cfg.kafka_dir / "data"):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)


def _sasl_props(cfg: StackConfig) -> dict[str, str]:
    """Both listeners authenticate, and every request is checked against ACLs.

    The client listener speaks SASL_PLAINTEXT with SCRAM-SHA-512. The controller listener speaks SASL_PLAINTEXT with
    PLAIN (KRaft cannot use SCRAM there: the credentials live in the metadata the controller serves), its only
    account being the admin, whom the broker half of this combined node logs in as. So the one super user is the
    admin: nobody reaching the controller port without its password (``ANONYMOUS``) can do anything, adding ACLs
    included. The password is in this file, which is therefore 0600. A cluster reachable from other machines also
    puts both listeners on TLS.
    """
    host, port, cport = cfg.host, cfg.kafka_port, cfg.kafka_controller_port
    admin_password = sasl_users(cfg)[ADMIN_USER]
    return {
        "listeners": f"SASL_PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "advertised.listeners": f"SASL_PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": SASL_MECHANISM,
        "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{admin_password}";'
        ),
        "listener.name.controller.sasl.enabled.mechanisms": CONTROLLER_SASL_MECHANISM,
        "sasl.mechanism.controller.protocol": CONTROLLER_SASL_MECHANISM,
        # server side: the accounts (user_<name>); client side (the broker half): username/password
        "listener.name.controller.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN_USER}" password="{admin_password}" user_{ADMIN_USER}="{admin_password}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN_USER}",
        "allow.everyone.if.no.acl.found": "false",
    }


def sasl_users(cfg: StackConfig) -> dict[str, str]:
    """Username -> password of the admin and of each service: random, made once per instance, kept 0600."""
    path = cfg.kafka_dir / "sasl-users.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    users = {name: secrets.token_hex(24) for name in (ADMIN_USER, *principals())}
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, json.dumps(users, indent=2) + "\n")
    return users


def client_options(cfg: StackConfig, user: str = ADMIN_USER) -> dict[str, str]:
    """aiokafka keyword arguments to connect to this instance as ``user`` (nothing when SASL is off)."""
    if not cfg.kafka_sasl:
        return {}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": SASL_MECHANISM,
        "sasl_plain_username": user,
        "sasl_plain_password": sasl_users(cfg)[user],
    }


def _classpath() -> list[str]:
    return ["-cp", f"{ensure_libs()}/*", f"-Dlog4j2.configurationFile={KAFKA_LOG4J}"]


def ensure_formatted(cfg: StackConfig, config: Path) -> None:
    """Format the storage directory once (``meta.properties`` marks it formatted; ``--ignore-formatted`` too)."""
    sasl_marker = cfg.kafka_dir / "data" / ".sasl-users"
    if (cfg.kafka_dir / "data" / "meta.properties").exists():
        if cfg.kafka_sasl and not sasl_marker.exists():
            raise StackError(
                f"{cfg.kafka_dir / 'data'} was formatted without SASL users: stop the stack and delete "
                f"{cfg.stack_dir} (or use another PAYUNG_STACK_DIR) to run with PAYUNG_KAFKA_SASL=1"
            )
        return
    # SCRAM credentials written into the metadata at format time exist before the broker's first request.
    scram: list[str] = []
    if cfg.kafka_sasl:
        for name, password in sasl_users(cfg).items():
            scram += ["--add-scram", f"{SASL_MECHANISM}=[name={name},password={password}]"]
    log.info("formatting Kafka storage in %s", cfg.kafka_dir / "data")
    result = subprocess.run(  # noqa: S603
        [
            _java(),
            *_classpath(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            _cluster_id(cfg),
            "-c",
            str(config),
            "--standalone",
            "--ignore-formatted",
            *scram,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"kafka storage format failed:\n{result.stdout}{result.stderr}")
    if cfg.kafka_sasl:
        sasl_marker.write_text("formatted with SCRAM users\n")
    _private_dirs(cfg)


def current_pid(cfg: StackConfig) -> int | None:
    """The broker's pid if it runs (stale pid files are cleaned up)."""
    return running_pid(pid_file(cfg), MAIN_CLASS)


def start(cfg: StackConfig) -> int:
    """Start the broker in the background unless it runs; returns its pid (not yet ready: see :func:`wait_ready`)."""
    pid = current_pid(cfg)
    if pid is not None:
        log.info("kafka already running (pid %s)", pid)
        return pid
    for port in (cfg.kafka_port, cfg.kafka_controller_port):
        if port_open(cfg.host, port):
            raise StackError(
                f"port {cfg.host}:{port} is taken by another process (set PAYUNG_KAFKA_PORT / "
                "PAYUNG_KAFKA_CONTROLLER_PORT)"
            )
    config = write_config(cfg)
    ensure_formatted(cfg, config)
    cmd = [_java(), *JVM_OPTS, *_classpath(), MAIN_CLASS, str(config)]
    return spawn(cmd, log_path=log_path(cfg), pid_file=pid_file(cfg), cwd=cfg.kafka_dir)


async def _broker_count(cfg: StackConfig) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, request_timeout_ms=5000, **client_options(cfg))
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return len(cluster.get("brokers", []))
    finally:
        await admin.close()


async def wait_ready(cfg: StackConfig, pid: int, within: float = 60) -> None:
    """Wait until a client gets metadata listing a broker (the broker is unfenced and can host topics)."""
    deadline = time.monotonic() + within
    # Connection refusals while the JVM starts are expected; aiokafka would log each one as an ERROR.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        while True:
            if not is_alive(pid):
                raise StackError(f"kafka exited while starting; {log_path(cfg)}:\n{tail(log_path(cfg), 40)}")
            if port_open(cfg.host, cfg.kafka_port):
                try:
                    if await asyncio.wait_for(_broker_count(cfg), 10) > 0:
                        return
                except Exception as exc:
                    log.debug("kafka not ready: %r", exc)
            if time.monotonic() >= deadline:
                raise StackError(f"kafka not ready after {within:.0f} s; {log_path(cfg)}:\n{tail(log_path(cfg), 40)}")
            await asyncio.sleep(0.5)
    finally:
        aiokafka_log.setLevel(level)


# Kafka protocol codes (org.apache.kafka.common.acl / resource): resource types, pattern types, operations.
_RESOURCE = {"topic": 2, "group": 3}
_PATTERN = {"literal": 3, "prefix": 4}
_OPERATION = {"Read": 3, "Write": 4, "Describe": 8}
_ALLOW = 3


async def apply_acls(cfg: StackConfig) -> int:
    """Create every service principal's ACLs (deploy/native/acls.py) as the admin; creating an existing ACL is a no-op.

    aiokafka's admin client has no ACL call, so the CreateAcls request (API 30) is sent through its protocol layer.
    """
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.kafka_bootstrap, **client_options(cfg))
    await admin.start()
    count = 0
    try:
        for service in principals():
            for acl in service_acls(service, cfg.topic_prefix):
                request = CreateAclsRequest(
                    _RESOURCE[acl.resource_type],
                    acl.name,
                    _PATTERN[acl.pattern],
                    f"User:{service}",
                    "*",
                    _OPERATION[acl.operation],
                    _ALLOW,
                )
                response = await admin._send_request(request)
                for error_code, message in response.creation_responses:
                    if error_code:
                        raise StackError(f"creating ACL {acl} for {service} failed: {error_code} {message}")
                count += 1
    finally:
        await admin.close()
    return count


def stop(cfg: StackConfig, timeout: float = 60) -> bool:
    """SIGTERM (controlled shutdown), SIGKILL after ``timeout`` s. False if it was not running."""
    pid = current_pid(cfg)
    if pid is None:
        return False
    if not terminate(pid, timeout):
        log.warning("kafka did not stop within %.0f s and was killed", timeout)
    pid_file(cfg).unlink(missing_ok=True)
    return True
