"""The Kubernetes manifests and Kafka ACLs generated from the code (deploy/k8s_gen.py, deploy/acls.py)."""

from __future__ import annotations

from deploy import k8s_gen
from deploy.acls import Acl, principals, service_acls
from shared import topics


def test_committed_manifests_match_the_code() -> None:
    stale = [str(path) for path, text in k8s_gen.render().items() if not path.exists() or path.read_text() != text]
    assert stale == [], "run `python -m deploy.k8s_gen`"


def test_a_service_reads_what_it_consumes_and_writes_what_it_produces_only() -> None:
    acls = set(service_acls("enrolment", "p."))
    assert Acl("topic", "p.identity.verified", "literal", "Read") in acls
    assert Acl("topic", "p.enrolment.confirmed", "literal", "Write") in acls
    assert Acl("topic", "p.identity.verified.dlq", "literal", "Write") in acls  # its dead letters
    assert Acl("group", "p.enrolment.", "prefix", "Read") in acls
    readable = {a.name for a in acls if a.operation == "Read" and a.resource_type == "topic"}
    assert readable == {"p.identity.verified", "p.registry.person_updated"}
    assert not any(a.operation == "Write" and a.name == "p.identity.verified" for a in acls)
    assert {a.name for a in acls if a.resource_type == "group"} == {"p.enrolment."}


def test_every_producer_and_consumer_has_a_principal() -> None:
    assert {"nomination", "verification", "enrolment", "notification"} <= set(principals())


def test_autoscalers_never_exceed_the_partitions() -> None:
    partitions = min(s.partitions for s in topics.all_topics() if not s.name.endswith(".dlq"))
    assert k8s_gen.hpa("verification")["spec"]["maxReplicas"] <= partitions


def _deployment_with(**container_changes: object) -> dict:
    deployment = k8s_gen.deployment("nomination", 8001)
    deployment["spec"]["template"]["spec"]["containers"][0].update(container_changes)
    return deployment


def test_rendered_rules_catch_what_a_schema_cannot() -> None:
    assert k8s_gen.verify_rendered([k8s_gen.deployment("nomination", 8001), k8s_gen.hpa("nomination")]) == []
    too_wide = k8s_gen.hpa("nomination")
    too_wide["spec"]["maxReplicas"] = 12
    literal = _deployment_with(env=[{"name": "PAYUNG_KAFKA_PASSWORD", "value": "hunter2"}])
    no_probe = _deployment_with(readinessProbe={"httpGet": {"path": "/", "port": "http"}})
    secret = {"kind": "Secret", "metadata": {"name": "payung-nomination", "namespace": "payung"}}
    problems = k8s_gen.verify_rendered([too_wide, literal, no_probe, secret])
    assert len(problems) == 4, problems
