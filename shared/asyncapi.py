"""The AsyncAPI 3.0 document of every topic, generated from the contract models.

``python -m shared.asyncapi`` writes docs/asyncapi.json; ``--check`` fails when the committed document differs from
what the models generate (CI runs it, so a contract change is always a reviewed diff).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared import topics
from shared.contracts import PAYLOADS, envelope_class

DOC = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"

# Who consumes what: each service consumes in its own consumer group "<service>.<topic>".
CONSUMERS: dict[str, tuple[str, ...]] = {
    "verification": (topics.NOMINATION_SUBMITTED, topics.ENROLMENT_ENDED),
    "enrolment": (topics.IDENTITY_VERIFIED, topics.REGISTRY_PERSON_UPDATED),
    "notification": (
        topics.ENROLMENT_CONFIRMED,
        topics.ENROLMENT_WAITLISTED,
        topics.IDENTITY_REJECTED,
        topics.ENROLMENT_ENDED,
        topics.ENROLMENT_REFUSED,
    ),
    "nomination": (
        topics.IDENTITY_REVIEW_REQUESTED,
        topics.ENROLMENT_ENDED,
        topics.IDENTITY_VERIFIED,
        topics.IDENTITY_REJECTED,
        topics.ENROLMENT_CONFIRMED,
        topics.ENROLMENT_WAITLISTED,
        topics.NOTIFICATION_SENT,
        topics.NOTIFICATION_FAILED,
        topics.ENROLMENT_REFUSED,
    ),
    # The read model behind the dashboard (dead letters are counted from Kafka offsets, not consumed).
    "reporting": (
        topics.NOMINATION_SUBMITTED,
        topics.IDENTITY_REVIEW_REQUESTED,
        topics.IDENTITY_VERIFIED,
        topics.IDENTITY_REJECTED,
        topics.ENROLMENT_CONFIRMED,
        topics.ENROLMENT_WAITLISTED,
        topics.ENROLMENT_ENDED,
        topics.ENROLMENT_REFUSED,
        topics.NOTIFICATION_SENT,
        topics.NOTIFICATION_FAILED,
    ),
}
# Services that consume all their topics in one consumer group, ``<service>.<group>`` (one transaction per fetched
# batch across the topics, shared/consumer.py); the others have a group per topic, ``<service>.<topic>``.
SHARED_GROUPS: dict[str, str] = {"nomination": "progress", "notification": "events", "reporting": "events"}


def consumer_group(service: str, topic: str) -> str:
    """The consumer group (without the topic prefix) in which ``service`` consumes ``topic``."""
    return f"{service}.{SHARED_GROUPS.get(service, topic)}"


# Who produces what: the owner declared next to each topic (shared/topics.py).
PRODUCERS = topics.OWNERS
KEY_NOTE = (
    "Kafka key: the envelope's person_key (HMAC-SHA256 of the NIK), so one person's events stay in order. "
    "Headers payung-kid and payung-sig: the producer's Ed25519 signature of the topic and value (shared/signing.py); "
    "consumers dead-letter an event not signed by this topic's producer."
)
DLQ_NOTE = (
    "Dead letters of {topic}: the original key and value unchanged; headers x-dlq-reason, x-dlq-error-type, "
    "x-original-topic, x-original-partition, x-original-offset, x-consumer-group, x-failed-at."
)


def build() -> FastStream:
    broker = KafkaBroker("kafka:9092", description="Payung's Kafka cluster")
    for payload in PAYLOADS:
        envelope = envelope_class(payload)
        broker.publisher(
            payload.topic,
            title=f"{payload.topic}:{PRODUCERS[payload.topic]}",
            description=f"{payload.event_type} v{payload.schema_version}, published by {PRODUCERS[payload.topic]}. "
            + KEY_NOTE,
            schema=envelope,
        )
        for service, consumed in CONSUMERS.items():
            if payload.topic in consumed:
                _document_consumer(broker, service, payload.topic, envelope)
        broker.publisher(
            topics.dlq(payload.topic),
            title=f"{topics.dlq(payload.topic)}:dead-letters",
            description=DLQ_NOTE.format(topic=payload.topic),
            schema=bytes,
        )
    return FastStream(broker, specification=AsyncAPI(title="Payung events", version="1.0.0"))


def _document_consumer(broker: KafkaBroker, service: str, topic: str, envelope: Any) -> None:
    async def consume(event: Any) -> None:
        """Documentation only: the services consume in batches through shared.consumer."""

    consume.__annotations__["event"] = envelope  # the real model, not the postponed string annotation
    consume.__name__ = f"{service}_{topic.replace('.', '_')}"
    group = consumer_group(service, topic)
    broker.subscriber(topic, group_id=group, title=f"{topic}:{service}", include_in_schema=True)(consume)


def render() -> str:
    spec = build().schema.to_specification().to_jsonable()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Generate or check docs/asyncapi.json")
    parser.add_argument("--check", action="store_true", help="fail if the committed document is out of date")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is out of date: run `python -m shared.asyncapi`", file=sys.stderr)
            raise SystemExit(1)
        print(f"{DOC.name} is up to date")
        return
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
