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

from shared import topics, topology
from shared.contracts import PAYLOADS, envelope_class

DOC = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"

# Who consumes and produces what: the services' declarations (services/<name>/topology.py, shared/topology.py).
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
    consumed_by: dict[str, list[tuple[str, topology.Subscription]]] = {}
    for service, declared in topology.declared().items():
        for sub in declared.subscriptions:
            for topic in sub.topics:
                consumed_by.setdefault(topic, []).append((service, sub))
    for payload in PAYLOADS:
        envelope, owner = envelope_class(payload), topology.owner(payload.topic)
        broker.publisher(
            payload.topic,
            title=f"{payload.topic}:{owner}",
            description=f"{payload.event_type} v{payload.schema_version}, published by {owner}. " + KEY_NOTE,
            schema=envelope,
        )
        for service, sub in consumed_by.get(payload.topic, ()):
            _document_consumer(broker, service, sub, payload.topic, envelope)
        broker.publisher(
            topics.dlq(payload.topic),
            title=f"{topics.dlq(payload.topic)}:dead-letters",
            description=DLQ_NOTE.format(topic=payload.topic),
            schema=bytes,
        )
    return FastStream(broker, specification=AsyncAPI(title="Payung events", version="1.0.0"))


def _document_consumer(
    broker: KafkaBroker, service: str, sub: topology.Subscription, topic: str, envelope: Any
) -> None:
    """One declared consumer group's reading of ``topic``, with the envelope it expects (the running service
    consumes the group's topics in batches, shared/service.py; the declaration is the same)."""

    async def consume(event: Any) -> None:
        pass

    consume.__doc__ = f"{sub.summary}. Consumer group {service}.{sub.group}, ack policy {sub.ack_policy.name}."

    consume.__annotations__["event"] = envelope  # the real model, not the postponed string annotation
    consume.__name__ = f"{service}_{topic.replace('.', '_')}"
    broker.subscriber(topic, group_id=f"{service}.{sub.group}", title=f"{topic}:{service}", include_in_schema=True)(
        consume
    )


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
