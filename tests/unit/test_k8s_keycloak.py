"""Sign-in for people on Kubernetes and compose: deploy/k8s/components/keycloak (deploy/kube/keycloak.py), the page
hosts and public URLs of the base, deploy/compose/keycloak.yml."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.kube import generate
from deploy.kube import keycloak as kube_keycloak
from deploy.native import keycloak

ROOT = generate.K8S.parents[1]
OIDC = {
    "PAYUNG_OIDC_ISSUER",
    "PAYUNG_OIDC_METADATA_URL",
    "PAYUNG_OIDC_CLIENT_ID",
    "PAYUNG_OIDC_CLIENT_SECRET",
    "PAYUNG_SESSION_SECRET",
}


def _kustomize() -> list[str]:
    """deploy/checks/checks.sh's pinned kustomize, else one on PATH (kubectl's built-in one last)."""
    pinned = ROOT / ".stack" / "tools" / "bin" / "kustomize"
    if pinned.exists():
        return [str(pinned), "build"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    pytest.skip("no kustomize (bash deploy/checks/checks.sh installs it into .stack/tools)")


@pytest.fixture(scope="module")
def production() -> list[dict]:
    """overlays/production rendered (it has the component; unlike dev it needs no generated secret files)."""
    out = subprocess.run(
        [*_kustomize(), str(generate.K8S / "overlays" / "production")], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _named(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _env(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"][0]["env"]


def test_the_component_renders_and_every_page_serving_service_gets_the_oidc_settings(production) -> None:
    deployments = _named(production, "Deployment")
    assert "keycloak" in deployments
    assert generate.verify_rendered(production) == []
    for name, deployment in deployments.items():
        env = _env(deployment)
        names = [e["name"] for e in env]
        if name not in generate.WEB_SERVICES:
            assert not OIDC & set(names), name
            continue
        assert set(names) >= OIDC | {"PAYUNG_OIDC_PUBLIC_BASE_URL"}, name
        by_name = {e["name"]: e for e in env}
        # the issuer is composed from a variable defined before it ($(VAR) only sees earlier ones)
        assert names.index("PAYUNG_OIDC_PROVIDER_URL") < names.index("PAYUNG_OIDC_ISSUER")
        assert by_name["PAYUNG_OIDC_ISSUER"]["value"] == "$(PAYUNG_OIDC_PROVIDER_URL)/realms/payung"
        for secret, key in (
            ("PAYUNG_OIDC_CLIENT_SECRET", "client-secret"),
            ("PAYUNG_SESSION_SECRET", "session-secret"),
        ):
            assert by_name[secret]["valueFrom"]["secretKeyRef"] == {"name": "payung-oidc", "key": key}
        base_url = by_name["PAYUNG_OIDC_PUBLIC_BASE_URL"]["valueFrom"]["configMapKeyRef"]
        assert base_url == {"name": generate.PUBLIC_URLS, "key": name}
    verification = {e["name"]: e for e in _env(deployments["verification"])}
    assert verification["PAYUNG_NOMINATION_PUBLIC_URL"]["valueFrom"]["configMapKeyRef"]["key"] == "nomination"
    nomination = {e["name"]: e for e in _env(deployments["nomination"])}
    assert int(nomination["PAYUNG_LETTER_MAX_BYTES"]["value"]) > 0
    # Keycloak does not talk to Kafka: the production overlay's Kafka CA is for the services only
    assert "PAYUNG_KAFKA_SSL_CAFILE" not in {e["name"] for e in _env(deployments["keycloak"])}


def test_without_the_component_no_service_has_sign_in_settings() -> None:
    for path in (generate.K8S / "base" / "services").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                assert not OIDC & {e["name"] for e in _env(doc)}, path.name


def test_keycloak_is_hardened_like_the_other_workloads(production) -> None:
    deployment = _named(production, "Deployment")["keycloak"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"].items() >= generate._pod_security().items()
    assert container["securityContext"] == generate._security_context()
    assert pod["automountServiceAccountToken"] is False
    account = _named(production, "ServiceAccount")[pod["serviceAccountName"]]
    assert account["automountServiceAccountToken"] is False
    for bound in ("requests", "limits"):
        assert {"cpu", "memory", "ephemeral-storage"} <= set(container["resources"][bound])
    assert all(v["emptyDir"].get("sizeLimit") for v in pod["volumes"] if "emptyDir" in v)
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert {"/tmp", "/opt/keycloak/data"} <= set(mounts)  # the only writable places of a read-only root
    assert mounts["/opt/keycloak/data/import"]["readOnly"] is True
    assert container["args"][:2] == ["start", "--optimized"]  # never rebuilds itself on the read-only root
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    for env in container["env"]:
        if any(w in env["name"] for w in ("PASSWORD", "DB_URL", "SECRET")):
            assert "secretKeyRef" in env["valueFrom"], env["name"]
    assert "payung/keycloak" in container["image"]
    assert (ROOT / "deploy" / "containers" / "keycloak" / "Dockerfile").exists()


def test_network_policies_let_browsers_and_the_pages_reach_keycloak_and_nothing_else(production) -> None:
    policies = _named(production, "NetworkPolicy")
    own = policies["keycloak"]["spec"]
    assert own["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "keycloak"}
    http = [r for r in own["ingress"] if {"port": kube_keycloak.HTTP_PORT, "protocol": "TCP"} in r["ports"]]
    namespaces = {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for r in http
        for p in r["from"]
        if "namespaceSelector" in p
    }
    pods = {
        p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for r in http for p in r["from"] if "podSelector" in p
    }
    assert namespaces == {generate.INGRESS_NAMESPACE} and pods == set(generate.WEB_SERVICES)
    for name in generate.WEB_SERVICES:
        egress = policies[f"{name}-to-keycloak"]["spec"]
        assert egress["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": name}
        assert egress["egress"][0]["to"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "keycloak"}}}]
    # browsers reach the realm's pages only, not the admin console
    paths = {p["path"] for r in _named(production, "Ingress")["keycloak"]["spec"]["rules"] for p in r["http"]["paths"]}
    assert paths == {"/realms", "/resources"}


def test_each_page_serving_service_has_a_host_of_its_own_with_pages_and_sign_in_only() -> None:
    ingress = generate.ingress(generate.services())
    hosts: dict[str, set[str]] = {}
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            hosts.setdefault(rule["host"], set()).add(path["backend"]["service"]["name"])
    for name, host in generate.PAGE_HOSTS.items():
        assert hosts[host] == {name}  # one service per page host: /auth/* and the session cookie are per host
        paths = {p["path"] for r in ingress["spec"]["rules"] if r["host"] == host for p in r["http"]["paths"]}
        assert paths == set(generate.PAGE_PATHS[name]) and "/auth" in paths
    assert set(ingress["spec"]["tls"][0]["hosts"]) == set(hosts)
    # nginx's default 1 MiB would refuse a 2 MiB letter before the service sees it
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(size.rstrip("m")) * 1024 * 1024 > generate.LETTER_MAX_BYTES


def test_public_urls_that_no_ingress_routes_are_refused() -> None:
    names = generate.services()
    docs = [generate.ingress(names), generate.public_urls(names)]
    docs += [generate.deployment(n, p) for n, p in names.items()]
    assert generate.verify_rendered(docs) == []
    docs[1]["data"]["nomination"] = "https://portal.other.example.go.id"  # the domain changed in one place only
    problems = generate.verify_rendered(docs)
    assert len(problems) == 1 and "nomination" in problems[0]


def test_the_secrets_are_made_once_and_the_realm_is_the_native_stacks(tmp_path: Path) -> None:
    urls = ["https://portal.x.go.id", "https://ruang-kerja.x.go.id", "https://x.go.id"]
    written = kube_keycloak.write_secrets(tmp_path, urls, demo_users=False, dev_database=False)
    assert set(written) == {"keycloak-admin.env", "oidc.env", "payung-realm.json"}
    for name in written:
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    data = json.loads(keycloak.secrets_file(tmp_path).read_text())
    realm = json.loads((tmp_path / "payung-realm.json").read_text())
    assert realm == keycloak.realm(urls, data, demo_users=False)  # the generator of the native stack and compose
    assert realm["users"] == []  # a production realm has no demo account
    (client,) = realm["clients"]
    assert client["redirectUris"] == [f"{u}/auth/callback" for u in urls]
    oidc = dict(line.split("=", 1) for line in (tmp_path / "oidc.env").read_text().splitlines())
    assert oidc["client-secret"] == client["secret"]
    assert len(oidc["session-secret"]) >= 32
    before = {n: (tmp_path / n).read_text() for n in written}
    assert kube_keycloak.write_secrets(tmp_path, urls, demo_users=False, dev_database=False) == []
    assert before == {n: (tmp_path / n).read_text() for n in written}  # a re-run changes nothing


def test_dev_secrets_have_the_demo_users_and_a_database(tmp_path: Path) -> None:
    written = kube_keycloak.write_secrets(tmp_path, ["https://a"], demo_users=True, dev_database=True)
    assert "keycloak.env" in written
    realm = json.loads((tmp_path / "payung-realm.json").read_text())
    assert {u["username"] for u in realm["users"]} == set(keycloak.DEMO_USERS)
    db = dict(line.split("=", 1) for line in (tmp_path / "keycloak.env").read_text().splitlines())
    assert db["db-url"].startswith("jdbc:postgresql://") and len(db["db-password"]) >= 32


def test_base_urls_come_from_the_base_configmap() -> None:
    urls = kube_keycloak.base_urls(generate.K8S / "base" / "ingress.yaml")
    assert urls == [f"https://{generate.PAGE_HOSTS.get(n, generate.DOMAIN)}" for n in generate.WEB_SERVICES]


def test_the_overlays_enable_the_component() -> None:
    for overlay in ("dev", "production"):
        text = (generate.K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        assert "../../components/keycloak" in yaml.safe_load(text)["components"], overlay


# --- compose ----------------------------------------------------------------------------------------------------------


def test_compose_gives_every_page_serving_service_the_sign_in_settings() -> None:
    override = yaml.safe_load((ROOT / "deploy" / "compose" / "keycloak.yml").read_text())["services"]
    base_urls = set()
    for name in generate.WEB_SERVICES:
        service = override[name]
        assert set(service["environment"]) >= {
            "PAYUNG_OIDC_ISSUER",
            "PAYUNG_OIDC_METADATA_URL",
            "PAYUNG_OIDC_PUBLIC_BASE_URL",
        }, name
        assert service["env_file"] == ["./.stack/compose-keycloak/web.env"], name  # client and session secrets
        assert service["depends_on"]["keycloak"]["condition"] == "service_healthy"
        base_urls.add(service["environment"]["PAYUNG_OIDC_PUBLIC_BASE_URL"])
    assert len(base_urls) == len(generate.WEB_SERVICES)  # each its own redirect target
    assert override["keycloak"]["ports"][0].startswith("${PAYUNG_BIND_ADDRESS:-127.0.0.1}:")


def test_compose_gives_the_workspace_the_letter_url_and_nomination_the_letter_limits() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "PAYUNG_NOMINATION_PORT" in services["verification"]["environment"]["PAYUNG_NOMINATION_PUBLIC_URL"]
    assert {"PAYUNG_LETTER_MAX_BYTES", "PAYUNG_LETTER_RETENTION_DAYS"} <= set(services["nomination"]["environment"])
