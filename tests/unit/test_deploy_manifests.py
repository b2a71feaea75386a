"""The Kubernetes manifests and Kafka ACLs generated from the code (deploy/kube/generate.py, deploy/native/acls.py)."""

from __future__ import annotations

from pathlib import Path

from deploy.kube import generate
from deploy.native.acls import Acl, principals, service_acls
from shared import topics, topology


def test_committed_manifests_match_the_code() -> None:
    stale = [str(path) for path, text in generate.render().items() if not path.exists() or path.read_text() != text]
    assert stale == [], "run `python -m deploy.kube.generate`"


def test_a_service_reads_what_it_consumes_and_writes_what_it_produces_only() -> None:
    acls = set(service_acls("enrolment", "p."))
    assert Acl("topic", "p.identity.verified", "literal", "Read") in acls
    assert Acl("topic", "p.enrolment.confirmed", "literal", "Write") in acls
    assert Acl("topic", "p.identity.verified.dlq", "literal", "Write") in acls  # its dead letters
    assert Acl("group", "p.enrolment.", "prefix", "Read") in acls
    readable = {a.name for a in acls if a.operation == "Read" and a.resource_type == "topic"}
    assert readable == {"p.identity.verified", "p.registry.person_updated", "p.objection.reviewed"}
    assert not any(a.operation == "Write" and a.name == "p.identity.verified" for a in acls)
    assert {a.name for a in acls if a.resource_type == "group"} == {"p.enrolment."}


def test_every_producer_and_consumer_has_a_principal() -> None:
    assert {"nomination", "verification", "enrolment", "notification"} <= set(principals())


def test_autoscalers_never_exceed_the_partitions() -> None:
    partitions = min(s.partitions for s in topics.all_topics() if not s.name.endswith(".dlq"))
    assert generate.hpa("verification")["spec"]["maxReplicas"] <= partitions


def _deployment_with(**container_changes: object) -> dict:
    deployment = generate.deployment("nomination", 8001)
    deployment["spec"]["template"]["spec"]["containers"][0].update(container_changes)
    return deployment


def test_rendered_rules_catch_what_a_schema_cannot() -> None:
    assert generate.verify_rendered([generate.deployment("nomination", 8001), generate.hpa("nomination")]) == []
    too_wide = generate.hpa("nomination")
    too_wide["spec"]["maxReplicas"] = 12
    literal = _deployment_with(env=[{"name": "PAYUNG_KAFKA_PASSWORD", "value": "hunter2"}])
    no_probe = _deployment_with(readinessProbe={"httpGet": {"path": "/", "port": "http"}})
    secret = {"kind": "Secret", "metadata": {"name": "payung-nomination", "namespace": "payung"}}
    problems = generate.verify_rendered([too_wide, literal, no_probe, secret])
    assert len(problems) == 4, problems


# --- issue 13: each finding about Kubernetes, compose and the images has a check here --------------------------------

ROOT = generate.K8S.parents[1]
FIRST = "payung.io/install-step"


def _base_docs() -> list[dict]:
    import yaml

    docs = []
    for path in sorted((generate.K8S / "base").rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _kustomization(overlay: str) -> dict:
    import yaml

    return yaml.safe_load((generate.K8S / "overlays" / overlay / "kustomization.yaml").read_text())


def _of(kind: str) -> list[dict]:
    return [d for d in _base_docs() if d["kind"] == kind]


def _pod(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def test_strimzi_resources_are_kafka_strimzi_io_v1() -> None:
    import yaml

    strimzi = generate.K8S / "components" / "strimzi"
    docs = [d for f in ("topics.yaml", "users.yaml") for d in yaml.safe_load_all((strimzi / f).read_text()) if d]
    assert docs and {d["apiVersion"] for d in docs} == {"kafka.strimzi.io/v1"}


def test_the_first_step_brings_everything_the_jobs_need() -> None:
    docs = _base_docs()
    first = {(d["kind"], d["metadata"]["name"]) for d in docs if d["metadata"].get("labels", {}).get(FIRST) == "first"}
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert jobs and all(("Job", j["metadata"]["name"]) in first for j in jobs)
    for job in jobs:
        pod = _pod(job)
        assert ("ServiceAccount", pod["serviceAccountName"]) in first, job["metadata"]["name"]
        for container in pod["containers"]:
            for ref in container.get("envFrom", []):
                assert ("ConfigMap", ref["configMapRef"]["name"]) in first
    # default-deny is only applied together with the egress policy that lets the Jobs reach Kafka and PostgreSQL
    assert {("NetworkPolicy", "default-deny"), ("NetworkPolicy", "payung-egress")} <= first
    # the dev overlay's generated Secrets (the Jobs' secretKeyRefs) carry the label too
    assert _kustomization("dev")["generatorOptions"]["labels"][FIRST] == "first"


def test_the_jobs_get_the_kafka_ca_in_production() -> None:
    patched = {p["target"]["kind"] for p in _kustomization("production")["patches"] if "kafka-ca" in p["patch"]}
    assert patched == {"Deployment", "Job"}


def test_ingress_and_network_policies_let_the_public_routes_and_prometheus_through() -> None:
    (ingress,) = _of("Ingress")
    routed = {p["path"]: p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert routed["/v1/reviews"] == "verification"
    assert routed["/v1/receipts"] == "notification"
    assert routed["/"] == "reporting" and routed["/v1/nominations"] == "nomination"
    policies = {d["metadata"]["name"]: d for d in _of("NetworkPolicy")}
    for name, port in generate.services().items():
        sources = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for rule in policies[name]["spec"]["ingress"]
            for peer in rule["from"]
            if {"port": port, "protocol": "TCP"} in rule["ports"]
        }
        assert generate.MONITORING_NAMESPACE in sources, name
        assert (generate.INGRESS_NAMESPACE in sources) == (name in set(routed.values())), name


def test_the_dev_overlay_reaches_its_own_kafka_and_postgres() -> None:
    import yaml

    patches = [yaml.safe_load(p["patch"]) for p in _kustomization("dev")["patches"] if "payung-egress" in p["patch"]]
    rules = patches[0]["spec"]["egress"]
    in_namespace = {
        port["port"] for rule in rules for peer in rule["to"] if set(peer) == {"podSelector"} for port in rule["ports"]
    }
    assert {9092, 5432} <= in_namespace


def test_nothing_writes_to_the_read_only_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    outbox = dockerfile.split("PAYUNG_LOCAL_OUTBOX_FILE=", 1)[1].split()[0]
    for doc in _of("Deployment") + _of("Job"):
        for container in _pod(doc)["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts
            if container["name"] == "notification":
                assert str(Path(outbox).parent) in mounts, "the local channel's file needs a writable volume"


def test_one_service_account_per_service_without_a_token() -> None:
    accounts = {d["metadata"]["name"]: d for d in _of("ServiceAccount")}
    for doc in _of("Deployment") + _of("Job"):
        pod = _pod(doc)
        assert pod["automountServiceAccountToken"] is False
        assert accounts[pod["serviceAccountName"]]["automountServiceAccountToken"] is False
    names = [_pod(d)["serviceAccountName"] for d in _of("Deployment")]
    assert len(set(names)) == len(names)


def test_autoscaled_deployments_have_no_static_replicas_anywhere() -> None:
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in _of("HorizontalPodAutoscaler")}
    assert scaled
    for doc in _of("Deployment"):
        if doc["metadata"]["name"] in scaled:
            assert "replicas" not in doc["spec"], doc["metadata"]["name"]
    for overlay in ("dev", "production"):
        assert "/spec/replicas" not in str(_kustomization(overlay).get("patches", []))


def test_pods_spread_and_bound_their_ephemeral_storage() -> None:
    for doc in _of("Deployment"):
        anti = _pod(doc)["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        assert anti[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    for doc in _of("Deployment") + _of("Job"):
        for container in _pod(doc)["containers"]:
            assert "ephemeral-storage" in container["resources"]["requests"]
            assert "ephemeral-storage" in container["resources"]["limits"]
        assert all(v["emptyDir"].get("sizeLimit") for v in _pod(doc)["volumes"] if "emptyDir" in v)


# --- compose ----------------------------------------------------------------------------------------------------------


def _compose() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_keeps_kafka_data_on_its_volume() -> None:
    kafka = _compose()["services"]["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert any(v.split(":")[1] == log_dirs for v in kafka["volumes"])


def test_compose_has_no_usable_default_secret() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("PAYUNG_PG_PASSWORD", "PAYUNG_PERSON_KEY_SECRET", "PAYUNG_API_KEYS", "PAYUNG_WEBHOOK_SECRET"):
        assert f"${{{name}:-" not in text and f"${{{name}-" not in text, name
        assert f"${{{name}:?" in text, name


def test_compose_publishes_ports_on_loopback_unless_told() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("${PAYUNG_BIND_ADDRESS:-127.0.0.1}:"), name


def test_compose_wires_authentication_into_every_service() -> None:
    services = _compose()["services"]
    for name in generate.services():
        assert "PAYUNG_API_KEYS" in services[name]["environment"], name


def test_the_local_issuer_and_file_channel_are_only_in_the_demo_profile() -> None:
    services = _compose()["services"]
    assert ":?" in services["enrolment"]["environment"]["PAYUNG_BPJS_ADAPTER"]
    assert ":?" in services["notification"]["environment"]["PAYUNG_BENEFICIARY_CHANNELS"]
    demo = (ROOT / "deploy" / "compose" / "demo.env").read_text()
    assert "PAYUNG_BPJS_ADAPTER=local" in demo and "PAYUNG_BENEFICIARY_CHANNELS=local" in demo


def test_env_example_names_every_setting_compose_reads() -> None:
    import re

    used = set(re.findall(r"\$\{(PAYUNG_[A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    named = set(re.findall(r"^(PAYUNG_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert used - named == set()


def test_one_dockerfile_installs_the_hashed_lock() -> None:
    assert not list((ROOT / "services").glob("*/Dockerfile"))
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG SERVICE" in dockerfile
    assert "--require-hashes --only-binary :all: -r /tmp/requirements.lock" in dockerfile


def test_the_services_refuse_to_start_without_their_secrets(monkeypatch) -> None:
    import pytest
    from pydantic import ValidationError

    from services.nomination.settings import NominationSettings

    for name in ("PAYUNG_DATABASE_URL", "PAYUNG_PERSON_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAYUNG_KAFKA_BOOTSTRAP", "kafka:9092")
    with pytest.raises(ValidationError) as refused:
        NominationSettings()
    missing = {e["loc"][0] for e in refused.value.errors()}
    assert {"database_url", "person_key_secret"} <= missing
    # a short person-key secret is refused too (the compose file's old default was not secret at all)
    monkeypatch.setenv("PAYUNG_DATABASE_URL", "postgresql://x@y/z")
    monkeypatch.setenv("PAYUNG_PERSON_KEY_SECRET", "short")
    with pytest.raises(ValidationError):
        NominationSettings()


def _make_env_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_env", ROOT / "deploy" / "compose" / "make-env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dotenv_value(raw: str) -> str:
    """A value as compose's .env parser reads it: single quotes are literal."""
    return raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw


def test_make_env_gives_each_producer_a_key_every_service_trusts() -> None:
    import json

    import pytest

    from shared import signing

    make_env = _make_env_module()
    assert set(make_env.PRODUCERS) == set(topology.owners().values())
    for use_openssl in (False, True):  # the cryptography package if importable, else `openssl genpkey`
        if use_openssl:
            import shutil

            if shutil.which("openssl") is None:
                pytest.skip("no openssl command")
        values = make_env.event_keys("202612", use_openssl=use_openssl)
        trusted = signing.parse_trusted(json.loads(_dotenv_value(values["PAYUNG_EVENT_TRUSTED_KEYS"])))
        assert values["PAYUNG_EVENT_TRUSTED_KEYS"].startswith("'")  # literal for compose: no interpolation
        for producer in make_env.PRODUCERS:
            signer = signing.Signer.parse(values[f"PAYUNG_EVENT_SIGNING_KEY_{producer.upper()}"])
            assert signer.kid == f"{producer}-202612"
            assert trusted[signer.kid].producer == producer
            # the public key in the trusted keys is the signer's own (verify raises otherwise)
            trusted[signer.kid].key.verify(signing._unb64(signer.sign("t", b"v")), signing.signed_bytes("t", b"v"))
    # every generated setting has its line in .env.example, so render() fills it in
    rendered = make_env.render((ROOT / ".env.example").read_text(), make_env.make("64.08.01.2001")[0])
    for name in make_env.GENERATED:
        line = next(line for line in rendered.splitlines() if line.startswith(f"{name}="))
        assert line != f"{name}=", name


def test_compose_gives_each_owner_its_own_signing_key_and_everyone_the_trusted_keys() -> None:
    services = _compose()["services"]
    text = (ROOT / "docker-compose.yml").read_text()
    assert "${PAYUNG_EVENT_TRUSTED_KEYS:?" in text
    for name in generate.services():
        env = services[name]["environment"]
        assert env["PAYUNG_EVENT_TRUSTED_KEYS"].startswith("${PAYUNG_EVENT_TRUSTED_KEYS:?"), name
        if name in topology.owners().values():
            assert env["PAYUNG_EVENT_SIGNING_KEY"].startswith(f"${{PAYUNG_EVENT_SIGNING_KEY_{name.upper()}:?"), name
        else:
            assert "PAYUNG_EVENT_SIGNING_KEY" not in env, name


def test_kubernetes_reads_event_keys_from_the_services_secret_and_the_shared_configmap() -> None:
    for doc in _base_docs():
        if doc["kind"] != "Deployment":
            continue
        name = doc["metadata"]["name"]
        env = {e["name"]: e.get("valueFrom") for e in _pod(doc)["containers"][0]["env"]}
        trusted = env["PAYUNG_EVENT_TRUSTED_KEYS"]["configMapKeyRef"]
        assert (trusted["name"], trusted["key"]) == ("payung-event-keys", "trusted-keys")
        if name in topology.owners().values():
            ref = env["PAYUNG_EVENT_SIGNING_KEY"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (f"payung-{name}", "event-signing-key")
        else:
            assert "PAYUNG_EVENT_SIGNING_KEY" not in env
    # the dev overlay generates the ConfigMap (labelled for the first step by generatorOptions)
    generators = _kustomization("dev")["configMapGenerator"]
    assert any(g["name"] == "payung-event-keys" for g in generators)
