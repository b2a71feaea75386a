"""What a started service subscribes is what its topology declares (services/<name>/topology.py).

Each service is started as its ServiceSpec wires it (the lifespan, on the test Kafka and PostgreSQL): its consumers
must be exactly the declared groups, each over exactly the declared topics. The AsyncAPI document, the Kafka ACLs
and reporting's lag panel are generated from the declarations, so a consumer the declaration does not list would
run undocumented, without ACLs and without a lag figure.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import pytest

from shared import db, topics, topology
from shared.service import ServiceSpec, create_app

pytestmark = pytest.mark.integration

# Settings a service cannot start without, beyond the database and the brokers.
EXTRA: dict[str, dict[str, Any]] = {
    "nomination": {"person_key_secret": "topology-test-secret-0123456789"},
}


@pytest.mark.parametrize("service", topology.SERVICES)
async def test_a_running_service_consumes_exactly_its_declared_groups(
    service: str, infra: Any, create_database: Any, topic_prefix: str, tmp_path: Path
) -> None:
    spec: ServiceSpec[Any, Any] = importlib.import_module(f"services.{service}.app").SPEC
    dsn = await create_database(f"topology_{service}")
    await asyncio.to_thread(db.migrate, dsn, spec.migrations)
    await topics.ensure_topics(infra.kafka_bootstrap, topic_prefix)
    extra = dict(EXTRA.get(service, {}))
    if "local_outbox_file" in spec.settings_cls.model_fields:
        extra["local_outbox_file"] = tmp_path / "messages.jsonl"
    settings = spec.settings_cls(
        database_url=dsn,
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=topic_prefix,
        retention_enabled=False,
        **extra,
    )
    declared = {
        f"{service}.{s.group}": sorted(settings.topic(t) for t in s.topics) for s in topology.of(service).subscriptions
    }
    app = create_app(spec, settings)
    async with app.router.lifespan_context(app):
        running = {c.name: sorted(c.topics) for c in app.state.runtime.consumers}
    assert running == declared
