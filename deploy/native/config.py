"""Settings of a native stack instance, read from ``PAYUNG_*`` environment variables.

Two instances can run side by side on one machine: the developer's (``.stack/local``, default ports) and the
test suite's (``.stack/test``, ports 19092/19093/15432, settings read from ``PAYUNG_TEST_*``), so ``./payung test``
never touches the data of a running ``./payung up``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("nomination", "verification", "enrolment", "notification", "reporting")

# Shared by every instance: the jars depend only on deploy/kafka/pom.xml.
KAFKA_LIBS_DIR = REPO_ROOT / ".stack" / "kafka-libs"
KAFKA_POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
KAFKA_LOG4J = REPO_ROOT / "deploy" / "kafka" / "log4j2.properties"
# More consumers than a topic has partitions would sit idle (shared/topics.py: 6 partitions per event topic).
MAX_REPLICAS = 6
# A replica's instance name: ``verification`` is replica 1 (today's names), ``verification-2`` replica 2, ...
_INSTANCE = re.compile(r"^(?P<service>[a-z]+)(?:-(?P<replica>[1-9][0-9]*))?$")


def instance_name(service: str, replica: int = 1) -> str:
    """The name of replica ``replica`` of ``service`` in pid files, logs and ``./payung status``."""
    return service if replica == 1 else f"{service}-{replica}"


def parse_instance(instance: str) -> tuple[str, int]:
    """``verification-2`` -> ("verification", 2), ``verification`` -> ("verification", 1); StackError otherwise."""
    match = _INSTANCE.match(instance)
    if match is None or match["service"] not in SERVICES or match["replica"] == "1":
        known = ", ".join(SERVICES)
        raise StackError(f"unknown service {instance!r}; known: {known} (replica k>1 of one: <service>-<k>)")
    return match["service"], int(match["replica"] or 1)


def parse_replicas(text: str) -> dict[str, int]:
    """``"verification=2,enrolment=3"`` -> {"verification": 2, "enrolment": 3}; StackError for anything else."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        service, _, count = item.partition("=")
        service = service.strip()
        if service not in SERVICES or not count.strip().isdigit() or not 1 <= int(count) <= MAX_REPLICAS:
            raise StackError(
                f"replicas: expected <service>=<1..{MAX_REPLICAS}> with a service of {', '.join(SERVICES)}, "
                f"got {item!r}"
            )
        counts[service] = int(count)
    return counts


class StackError(RuntimeError):
    """A component could not be started or stopped; the message says why and where to look."""


class StackConfig(BaseSettings):
    """Where one stack instance keeps its data and which ports it listens on."""

    model_config = SettingsConfigDict(env_prefix="PAYUNG_", extra="ignore")

    stack_dir: Path = Field(default_factory=lambda: REPO_ROOT / ".stack" / "local")
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    pg_port: int = 5432
    pg_user: str = "payung"
    # Only a default for a stack bound to 127.0.0.1; anything reachable from elsewhere sets its own.
    pg_password: SecretStr = SecretStr("payung-local")
    nomination_port: int = 8001
    verification_port: int = 8002
    enrolment_port: int = 8003
    notification_port: int = 8004
    reporting_port: int = 8005
    topic_prefix: str = ""
    # SASL/SCRAM-SHA-512 with ACLs on the client listener, one principal per service (PAYUNG_KAFKA_SASL=1); the
    # storage is formatted with the users, so switching it on for an existing instance needs a wiped stack dir.
    kafka_sasl: bool = False
    # The identity provider for people's sign-in (deploy/native/keycloak.py): Keycloak from Maven Central, or none
    # (PAYUNG_IDP=none, or ./payung up --no-idp) on machines without the memory for it: pages then take API keys.
    idp: Literal["keycloak", "none"] = "keycloak"
    keycloak_port: int = 8080
    # Processes per service (PAYUNG_REPLICAS="verification=2,enrolment=3"; ./payung up --replicas verification=2):
    # replica k > 1 listens on the service's port + replica_port_step * (k - 1), e.g. 8102 for verification-2.
    replicas: str = ""
    replica_port_step: int = Field(default=100, ge=1)

    @field_validator("replicas")
    @classmethod
    def _valid_replicas(cls, value: str) -> str:
        try:
            parse_replicas(value)  # refuses a typo at start rather than running one process silently
        except StackError as exc:
            raise ValueError(str(exc)) from None  # a settings error, like any other PAYUNG_* one
        return value

    @field_validator("stack_dir")
    @classmethod
    def _absolute_stack_dir(cls, value: Path) -> Path:
        """A relative ``PAYUNG_STACK_DIR`` (``.stack/bench``) is made absolute once, against the directory it was given
        in: PostgreSQL's tools run in other working directories, where it named nothing ("directory does not exist")."""
        return value.expanduser().absolute()

    @property
    def logs_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.stack_dir / "run"

    @property
    def kafka_dir(self) -> Path:
        return self.stack_dir / "kafka"

    @property
    def pg_dir(self) -> Path:
        return self.stack_dir / "postgres"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    def service_port(self, name: str, replica: int = 1) -> int:
        """The HTTP port of replica ``replica`` of service ``name`` (replica 1: the service's own port)."""
        if name not in SERVICES:
            raise StackError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
        port: int = getattr(self, f"{name}_port")
        return port + self.replica_port_step * (replica - 1)

    def replica_count(self, name: str) -> int:
        """How many processes of service ``name`` this instance runs (1 unless ``replicas`` says otherwise)."""
        return parse_replicas(self.replicas).get(name, 1)

    def instances(self) -> list[tuple[str, int]]:
        """(service, replica) of every process of the services, in start order: all replicas 1 first."""
        most = max(self.replica_count(name) for name in SERVICES)
        return [(n, k) for k in range(1, most + 1) for n in SERVICES if k <= self.replica_count(n)]


class StackTestConfig(StackConfig):
    """The test suite's instance: its own directory and ports, overridable with ``PAYUNG_TEST_*``.

    Not named ``Test...`` so that pytest does not try to collect it when a test imports it.
    """

    model_config = SettingsConfigDict(env_prefix="PAYUNG_TEST_", extra="ignore")

    stack_dir: Path = Field(default_factory=lambda: REPO_ROOT / ".stack" / "test")
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    pg_port: int = 15432
    nomination_port: int = 18001
    verification_port: int = 18002
    enrolment_port: int = 18003
    notification_port: int = 18004
    reporting_port: int = 18005
    keycloak_port: int = 18080
