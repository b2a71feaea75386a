"""Who may do what on Kafka: one principal per service, from the services' declared topologies (shared/topology.py).

A service may read the topics it consumes (and commit offsets in its own consumer groups, ``<prefix><service>.``),
write the topics it produces and the dead-letter topics of what it consumes. Nothing else: no topic creation, no
reading another service's input. The native stack (deploy/native/kafka.py) applies these with the admin API, and
the Strimzi ``KafkaUser`` resources of deploy/k8s are generated from them (deploy/kube/generate.py), so all stay in
step with the declarations.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import topics, topology

ADMIN_USER = "payung-admin"
# Services that also watch the others' consumer lag and dead letters (reporting's Kafka health panel): they may
# describe every group and topic, which reveals offsets, not events.
OBSERVERS = ("reporting",)  # the stack's own super user: topic provisioning, ACLs, tests


@dataclass(frozen=True)
class Acl:
    """An ALLOW rule: ``operation`` on the ``resource_type`` named ``name`` (``pattern`` literal or prefixed)."""

    resource_type: str  # "topic" | "group"
    name: str
    pattern: str  # "literal" | "prefix"
    operation: str  # "Read" | "Write" | "Describe"


def principals() -> list[str]:
    """Every service with a Kafka principal: whoever consumes or produces a topic."""
    return sorted(set(topology.consumers()) | set(topology.owners().values()))


def consumed(service: str) -> list[str]:
    return sorted(topology.consumers().get(service, ()))


def produced(service: str) -> list[str]:
    """The topics ``service`` writes: its events and the dead letters of the topics it consumes."""
    own = [topic for topic, producer in topology.owners().items() if producer == service]
    return sorted({*own, *(topics.dlq(t) for t in consumed(service))})


def service_acls(service: str, prefix: str = "") -> list[Acl]:
    """The ACLs of ``service``'s principal; topic and group names carry ``prefix`` (test runs, shared clusters)."""
    acls = [Acl("topic", prefix + t, "literal", op) for t in consumed(service) for op in ("Read", "Describe")]
    acls += [Acl("topic", prefix + t, "literal", op) for t in produced(service) for op in ("Write", "Describe")]
    # Consumer groups are named <prefix><service>.<topic> (shared/service.py).
    acls.append(Acl("group", f"{prefix}{service}.", "prefix", "Read"))
    if service in OBSERVERS:
        # Lag = committed offsets of the other groups against end offsets; dead letters = the dlq end offsets.
        described = {a.name for a in acls if a.resource_type == "topic"}
        acls += [
            Acl("group", f"{prefix}{other}.", "prefix", "Describe")
            for other in sorted(topology.consumers())
            if other != service
        ]
        every = [prefix + t for t in topics.EVENT_TOPICS] + [prefix + topics.dlq(t) for t in topics.EVENT_TOPICS]
        acls += [Acl("topic", t, "literal", "Describe") for t in every if t not in described]
    return acls
