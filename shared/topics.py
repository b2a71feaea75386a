"""Kafka topics, declared on purpose: names, partitions, retention.

Every topic the services publish to or consume from is listed here, so the stack (native, compose or Kubernetes)
creates them with the intended settings instead of relying on broker auto-creation. Each consumed topic has a
dead-letter companion ``<topic>.dlq``.

Each event topic has an OWNER, the one service allowed to produce it (declared in that service's topology,
``shared.topology.owner``): consumers dead-letter an event whose envelope names another producer or is not signed by a
key of the owner (shared/signing.py), the Kafka ACLs grant WRITE to the owner only (deploy/native/acls.py) and the
AsyncAPI document names it (shared/asyncapi.py). Dead-letter topics are not domain events: whoever consumes a topic
writes its dead letters.

Sizes are declared here together, so a dead-letter topic always accepts what its source topic accepted: a dead
letter is the source record (key, value, headers: at most ``EVENT_MAX_BYTES``) plus the dead-letter headers, which
``shared.consumer`` bounds well under ``DLQ_HEADROOM_BYTES``. The broker (deploy/native/kafka.py), the producers
(``shared.outbox.new_producer``) and the readers take their limits from the constants below.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any

DAY_MS = 24 * 60 * 60 * 1000
# Largest record batch an event topic accepts (Kafka's max.message.bytes; Kafka's own default is 1 MiB + 12).
EVENT_MAX_BYTES = 1024 * 1024
# What a dead letter may add to its source record: the x-dlq-* headers (bounded in shared/consumer.py) and the
# record and batch framing. The dead-letter topic's limit is the source's plus this.
DLQ_HEADROOM_BYTES = 64 * 1024
# The largest request a producer may send and the broker's own message.max.bytes: one dead letter of the largest
# source record fits, with room for the request framing.
MAX_REQUEST_BYTES = EVENT_MAX_BYTES + 2 * DLQ_HEADROOM_BYTES


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    retention_ms: int = 30 * DAY_MS
    max_message_bytes: int = EVENT_MAX_BYTES

    def config(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": "delete",
            "max.message.bytes": str(self.max_message_bytes),
        }


NOMINATION_SUBMITTED = "nomination.submitted"
IDENTITY_VERIFIED = "identity.verified"
IDENTITY_REJECTED = "identity.rejected"
ENROLMENT_CONFIRMED = "enrolment.confirmed"
ENROLMENT_WAITLISTED = "enrolment.waitlisted"
NOTIFICATION_SENT = "notification.sent"
NOTIFICATION_FAILED = "notification.failed"
IDENTITY_REVIEW_REQUESTED = "identity.review_requested"
REGISTRY_PERSON_UPDATED = "registry.person_updated"
ENROLMENT_ENDED = "enrolment.ended"
ENROLMENT_REFUSED = "enrolment.refused"
INBOUND_MESSAGE_RECEIVED = "inbound.message_received"
INBOUND_MESSAGE_ANSWERED = "inbound.message_answered"
OBJECTION_FILED = "objection.filed"
OBJECTION_REVIEWED = "objection.reviewed"
LEAD_RECEIVED = "lead.received"
QUOTA_SHORTFALL_FORECAST = "forecast.quota_shortfall"

EVENT_TOPICS = (
    NOMINATION_SUBMITTED,
    IDENTITY_VERIFIED,
    IDENTITY_REJECTED,
    ENROLMENT_CONFIRMED,
    ENROLMENT_WAITLISTED,
    NOTIFICATION_SENT,
    NOTIFICATION_FAILED,
    IDENTITY_REVIEW_REQUESTED,
    REGISTRY_PERSON_UPDATED,
    ENROLMENT_ENDED,
    ENROLMENT_REFUSED,
    INBOUND_MESSAGE_RECEIVED,
    INBOUND_MESSAGE_ANSWERED,
    OBJECTION_FILED,
    OBJECTION_REVIEWED,
    LEAD_RECEIVED,
    QUOTA_SHORTFALL_FORECAST,
)


def dlq(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}.dlq"


def dlq_spec(source: TopicSpec) -> TopicSpec:
    """The dead-letter companion of ``source``: one partition, kept longer, and room for the dead-letter headers."""
    return TopicSpec(
        dlq(source.name),
        partitions=1,
        retention_ms=90 * DAY_MS,
        max_message_bytes=source.max_message_bytes + DLQ_HEADROOM_BYTES,
    )


def all_topics(prefix: str = "") -> list[TopicSpec]:
    """Every topic of the system, with ``prefix`` prepended (tests use a prefix per run)."""
    specs = [TopicSpec(prefix + name) for name in EVENT_TOPICS]
    return specs + [dlq_spec(spec) for spec in specs]


def max_message_bytes(topic: str) -> int:
    """The declared limit of a full topic name (prefix included); an undeclared topic gets an event topic's."""
    for spec in sorted(all_topics(), key=lambda s: -len(s.name)):  # "x.dlq" is matched before "x"
        if topic.endswith(spec.name):
            return spec.max_message_bytes
    return EVENT_MAX_BYTES


async def ensure_topics(bootstrap: str, prefix: str = "", replication: int = 1, **client_options: Any) -> list[str]:
    """Create the missing topics; existing ones are left as they are. Returns the names created.

    ``client_options`` are aiokafka's security arguments (SASL/TLS), e.g. ``ServiceSettings.kafka_client_options()``.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in all_topics(prefix) if spec.name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(s.name, s.partitions, replication, topic_configs=s.config()) for s in missing]
            )
        return [s.name for s in missing]
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Create Payung's Kafka topics.")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--replication", type=int, default=1)
    args = parser.parse_args()
    # A secured cluster: the same PAYUNG_KAFKA_SECURITY_PROTOCOL/... variables as the services, for a principal
    # allowed to create topics (the provisioning Job's).
    from shared.settings import KafkaClientSettings

    options = KafkaClientSettings().kafka_client_options()
    created = asyncio.run(ensure_topics(args.bootstrap, args.prefix, args.replication, **options))
    print(f"topics: {len(created)} created, {len(all_topics(args.prefix)) - len(created)} already there")


if __name__ == "__main__":
    main()
