"""The event topology, declared once: what each service consumes (in which consumer group) and what it produces.

Every service declares its ``Topology`` in ``services/<name>/topology.py``: a static module that imports nothing
but the contracts, so tools read it without starting (or importing) the service. Everything else is derived from
these declarations:

- the consumers a running service starts (``shared.service`` subscribes exactly the declared groups, each to the
  handler its bootstrap binds to that group name, and refuses to start when the two disagree);
- who may sign which topic (``owner``: consumers dead-letter an event not produced by its declared owner);
- the AsyncAPI document (``shared.asyncapi``), the Kafka ACLs (``deploy/native/acls.py``) and the consumer-group table
  (reporting's lag panel, the hostile-input benchmark, the end-to-end tests).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from faststream import AckPolicy

from shared.contracts import Payload

# The services, in pipeline order. A service not listed here has no topology (and no Kafka principal).
SERVICES = ("nomination", "verification", "enrolment", "notification", "reporting")


@dataclass(frozen=True)
class Subscription:
    """One Kafka consumer group of a service: the events it reads (one topic each) and how it acknowledges them.

    Every topic of a group is fetched together and applied in ONE transaction per batch by ONE handler (the
    handler the service's bootstrap binds to ``group``). The consumer group is ``<prefix><service>.<group>``; the
    inbox name of each topic stays ``<service>.<topic>``, so a group that merges topics recognises what an earlier
    per-topic consumer processed.
    """

    group: str
    events: tuple[type[Payload], ...]
    summary: str
    # Commit offsets only after the batch's transaction committed; on an error that survived the retries, rewind
    # so Kafka redelivers the batch. Poison messages never reach that point: the consumer dead-letters them.
    ack_policy: AckPolicy = AckPolicy.NACK_ON_ERROR

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(event.topic for event in self.events)


@dataclass(frozen=True)
class Topology:
    """What one service consumes and produces."""

    service: str
    subscriptions: tuple[Subscription, ...]
    produces: tuple[type[Payload], ...]

    def __post_init__(self) -> None:
        groups = [s.group for s in self.subscriptions]
        if len(groups) != len(set(groups)):
            raise ValueError(f"{self.service}: a consumer group is declared twice")
        consumed = [t for s in self.subscriptions for t in s.topics]
        if len(consumed) != len(set(consumed)):
            raise ValueError(f"{self.service}: a topic is consumed by two groups (one handler per topic)")

    @property
    def consumed(self) -> tuple[str, ...]:
        return tuple(t for s in self.subscriptions for t in s.topics)

    @property
    def produced(self) -> tuple[str, ...]:
        return tuple(p.topic for p in self.produces)

    def group_of(self, topic: str) -> str:
        """The consumer group (without prefix) in which this service consumes ``topic``; KeyError if it does not."""
        for sub in self.subscriptions:
            if topic in sub.topics:
                return f"{self.service}.{sub.group}"
        raise KeyError(topic)


@cache
def declared() -> dict[str, Topology]:
    """Every service's declaration, from ``services/<name>/topology.py`` (imported by name: ``shared`` does not
    depend on any service's code, only on the declaration each one publishes)."""
    out: dict[str, Topology] = {}
    for name in SERVICES:
        topology = importlib.import_module(f"services.{name}.topology").TOPOLOGY
        if not isinstance(topology, Topology) or topology.service != name:
            raise TypeError(f"services/{name}/topology.py must define TOPOLOGY = Topology({name!r}, ...)")
        out[name] = topology
    producers = [t for topology in out.values() for t in topology.produced]
    if len(producers) != len(set(producers)):
        raise ValueError("a topic is declared as produced by two services (one owner per topic)")
    return out


def of(service: str) -> Topology:
    return declared()[service]


@cache
def owners() -> dict[str, str]:
    """Event topic -> the one service that produces (and signs) it."""
    return {topic: t.service for t in declared().values() for topic in t.produced}


def owner(topic: str) -> str:
    """The service that alone may produce ``topic`` (a logical name); KeyError for a topic nobody produces."""
    return owners()[topic]


def consumers() -> dict[str, tuple[str, ...]]:
    """Service -> the topics it consumes (services consuming nothing are left out)."""
    return {name: t.consumed for name, t in declared().items() if t.consumed}


def consumer_group(service: str, topic: str) -> str:
    """The consumer group (without the topic prefix) in which ``service`` consumes ``topic``."""
    return of(service).group_of(topic)


def consumer_groups() -> Iterator[tuple[str, str, str]]:
    """(service, topic, consumer group without prefix) for every topic every service consumes."""
    for name, topology in declared().items():
        for sub in topology.subscriptions:
            for topic in sub.topics:
                yield name, topic, f"{name}.{sub.group}"
