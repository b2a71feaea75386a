"""The keycloak component of deploy/k8s: sign-in for people (docs/security.md) on Kubernetes.

``python -m deploy.kube.generate`` writes ``deploy/k8s/components/keycloak/`` from this module: Keycloak (the
``payung/keycloak`` image of deploy/containers/keycloak/Dockerfile, pre-built for PostgreSQL so that it starts with
``--optimized`` on a read-only root), its Service, Ingress (host ``masuk.<domain>``: the realm's pages and
resources only, not the admin console), NetworkPolicies and PodDisruptionBudget, and the patches that give the
page-serving services (generate.WEB_SERVICES) their ``PAYUNG_OIDC_*`` settings. The realm is the one the native
stack and compose import (``deploy.native.keycloak.realm``), written with the Kubernetes base URLs.

Secrets (never in git):

- ``payung-keycloak`` (``db-url`` a JDBC URL, ``db-username``, ``db-password``): Keycloak's own PostgreSQL database
  and role, made by the operator like the services' ``database-url`` (the dev overlay generates one);
- ``payung-keycloak-admin`` (``admin-password`` of the bootstrap admin ``payung-admin``), ``payung-oidc``
  (``client-secret``, ``session-secret``) and ``payung-keycloak-realm`` (``payung-realm.json``, holding the same
  client secret): made by deploy/k8s/install.sh when missing, with ``python -m deploy.kube.keycloak secrets``.

    python -m deploy.kube.keycloak secrets OUT_DIR --urls RENDERED.yaml [--demo-users] [--dev-database]
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path
from typing import Any

import yaml

from deploy.kube import generate
from deploy.kube.generate import (
    FIRST_STEP,
    HEADER,
    INGRESS_NAMESPACE,
    K8S,
    KEYCLOAK_HOST,
    MONITORING_NAMESPACE,
    PUBLIC_URLS,
    WEB_SERVICES,
    public_url,
)

NAME = "keycloak"
COMPONENT = K8S / "components" / NAME
HTTP_PORT = 8080
MANAGEMENT_PORT = 9000  # Keycloak's management interface: /health/*, /metrics
# The Secrets' names (not secrets themselves).
DB_SECRET = "payung-keycloak"  # noqa: S105
ADMIN_SECRET = "payung-keycloak-admin"  # noqa: S105
REALM_SECRET = "payung-keycloak-realm"  # noqa: S105
OIDC_SECRET = "payung-oidc"  # noqa: S105
REALM_FILE = "payung-realm.json"
ADMIN_USER = "payung-admin"
# In the cluster the services read the discovery document (and, through KC_HOSTNAME_BACKCHANNEL_DYNAMIC, the token
# and JWKS endpoints) from the Service; browsers use the public issuer https://masuk.<domain>/realms/payung.
METADATA_URL = f"http://{NAME}:{HTTP_PORT}/realms/payung/.well-known/openid-configuration"
RESOURCES = {
    "requests": {"cpu": "200m", "memory": "768Mi", "ephemeral-storage": "64Mi"},
    "limits": {"cpu": "2", "memory": "1Gi", "ephemeral-storage": "512Mi"},
}
# Only what a browser needs: the login, account and logout pages of the realm and their static resources.
# The admin console (/admin) is not published: `kubectl port-forward` to it (docs/DEPLOYMENT.md).
PUBLIC_PATHS = ["/realms", "/resources"]


def _env() -> list[dict[str, Any]]:
    def secret(name: str, key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": name, "key": key}}

    return [
        {"name": "KC_DB_URL", "valueFrom": secret(DB_SECRET, "db-url")},
        {"name": "KC_DB_USERNAME", "valueFrom": secret(DB_SECRET, "db-username")},
        {"name": "KC_DB_PASSWORD", "valueFrom": secret(DB_SECRET, "db-password")},
        {"name": "KC_BOOTSTRAP_ADMIN_USERNAME", "value": ADMIN_USER},
        {"name": "KC_BOOTSTRAP_ADMIN_PASSWORD", "valueFrom": secret(ADMIN_SECRET, "admin-password")},
        # The issuer browsers see; the services' back channel stays on the Service's name (METADATA_URL).
        {"name": "KC_HOSTNAME", "valueFrom": public_url(NAME)},
        {"name": "KC_HOSTNAME_BACKCHANNEL_DYNAMIC", "value": "true"},
        # TLS ends at the ingress controller, which sets X-Forwarded-*; plain HTTP inside the cluster only.
        {"name": "KC_HTTP_ENABLED", "value": "true"},
        {"name": "KC_HTTP_PORT", "value": str(HTTP_PORT)},
        {"name": "KC_PROXY_HEADERS", "value": "xforwarded"},
        {"name": "JAVA_OPTS_KC_HEAP", "value": "-Xms256m -Xmx640m"},
    ]


def deployment() -> dict[str, Any]:
    probe = {"httpGet": {"path": "/health/live", "port": "management"}, "periodSeconds": 10, "timeoutSeconds": 3}
    container = {
        "name": NAME,
        "image": "payung/keycloak",
        "imagePullPolicy": "Always",
        # The realm is imported on the first start only (an existing realm is left as it is: docs/DEPLOYMENT.md).
        "args": ["start", "--optimized", "--import-realm"],
        "env": _env(),
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT},
            {"name": "management", "containerPort": MANAGEMENT_PORT},
        ],
        "livenessProbe": {**probe, "failureThreshold": 3},
        "readinessProbe": {**probe, "httpGet": {"path": "/health/ready", "port": "management"}, "periodSeconds": 5},
        # The first start creates the schema in PostgreSQL and imports the realm: minutes on small nodes.
        "startupProbe": {
            **probe,
            "httpGet": {"path": "/health/started", "port": "management"},
            "periodSeconds": 5,
            "failureThreshold": 60,
        },
        "resources": RESOURCES,
        "securityContext": generate._security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir
            {"name": "data", "mountPath": "/opt/keycloak/data"},  # Keycloak's data/tmp (the root is read-only)
            {"name": "realm", "mountPath": "/opt/keycloak/data/import", "readOnly": True},
        ],
    }
    selector = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "identity-provider"}
    pod = {
        "serviceAccountName": f"payung-{NAME}",
        "automountServiceAccountToken": False,
        "securityContext": {**generate._pod_security(), "fsGroup": 10001},  # fsGroup: the realm file is 0440
        "containers": [container],
        "volumes": [
            {"name": "tmp", "emptyDir": {"sizeLimit": "128Mi"}},
            {"name": "data", "emptyDir": {"sizeLimit": "256Mi"}},
            {"name": "realm", "secret": {"secretName": REALM_SECRET, "defaultMode": 0o440}},
        ],
        "terminationGracePeriodSeconds": 30,
    }
    # kube-score's two findings are these two decisions (one replica, Recreate), named on the object itself rather
    # than skipped for every Deployment in deploy/k8s/kube-score-ignored.txt.
    ignored = {"kube-score/ignore": "deployment-replicas,deployment-strategy"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "labels": _labels(), "annotations": ignored},
        "spec": {
            # One replica with a local cache (built into the image): a second one would need Infinispan's
            # clustering (a headless Service, jgroups); sign-in survives a restart, sessions do not.
            "replicas": 1,
            # Never two versions on one database: an upgrade migrates Keycloak's schema.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": _labels()}, "spec": pod},
        },
    }


def _labels() -> dict[str, str]:
    return generate._labels(NAME, "identity-provider")


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "labels": _labels()},
        "spec": {
            "selector": {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "identity-provider"},
            "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}],
        },
    }


def pdb() -> dict[str, Any]:
    doc = generate.pdb(NAME)
    doc["metadata"]["labels"] = _labels()
    doc["spec"]["selector"] = {"matchLabels": _labels()}
    return doc


def network_policies() -> list[dict[str, Any]]:
    """Ingress to Keycloak: the ingress controller (browsers) and the page-serving services on 8080, Prometheus on
    the management port. Egress from each page-serving service to Keycloak (default-deny holds the rest); Keycloak's
    own egress to DNS and PostgreSQL is base/common.yaml's payung-egress (it is part-of=payung)."""

    def from_pod(name: str) -> dict[str, Any]:
        return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": name}}}

    port = [{"port": HTTP_PORT, "protocol": "TCP"}]
    ingress_rules = [
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}}],
            "ports": port,
        },
        {"from": [from_pod(n) for n in WEB_SERVICES], "ports": port},
        {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}],
            "ports": [{"port": MANAGEMENT_PORT, "protocol": "TCP"}],
        },
    ]
    docs = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": NAME, "labels": _labels()},
            "spec": {
                "podSelector": from_pod(NAME)["podSelector"],
                "policyTypes": ["Ingress"],
                "ingress": ingress_rules,
            },
        }
    ]
    for name in WEB_SERVICES:
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": f"{name}-to-{NAME}", "labels": generate._labels(name)},
                "spec": {
                    "podSelector": from_pod(name)["podSelector"],
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [from_pod(NAME)], "ports": port}],
                },
            }
        )
    return docs


def ingress() -> dict[str, Any]:
    paths = [
        {"path": p, "pathType": "Prefix", "backend": {"service": {"name": NAME, "port": {"name": "http"}}}}
        for p in PUBLIC_PATHS
    ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": NAME, "labels": _labels()},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [KEYCLOAK_HOST], "secretName": "payung-tls"}],
            "rules": [{"host": KEYCLOAK_HOST, "http": {"paths": paths}}],
        },
    }


def oidc_env() -> list[dict[str, Any]]:
    """What each page-serving service gets (shared/websession.py WebSignInSettings), in this order: the issuer is
    composed from the provider's public URL with Kubernetes' $(VAR) expansion of an earlier variable."""

    def secret(key: str) -> dict[str, Any]:
        return {"secretKeyRef": {"name": OIDC_SECRET, "key": key}}

    return [
        {"name": "PAYUNG_OIDC_PROVIDER_URL", "valueFrom": public_url(NAME)},
        {"name": "PAYUNG_OIDC_ISSUER", "value": "$(PAYUNG_OIDC_PROVIDER_URL)/realms/payung"},
        {"name": "PAYUNG_OIDC_METADATA_URL", "value": METADATA_URL},
        {"name": "PAYUNG_OIDC_CLIENT_ID", "value": "payung-web"},
        {"name": "PAYUNG_OIDC_CLIENT_SECRET", "valueFrom": secret("client-secret")},
        {"name": "PAYUNG_SESSION_SECRET", "valueFrom": secret("session-secret")},
    ]


def oidc_patch() -> list[dict[str, Any]]:
    """A JSON patch appending oidc_env() to a Deployment's container (appended in order: see oidc_env)."""
    return [{"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": e} for e in oidc_env()]


def kustomization(names: dict[str, int]) -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": ["keycloak.yaml"],
        "patches": [
            {"path": "oidc-env.yaml", "target": {"kind": "Deployment", "name": n}} for n in WEB_SERVICES if n in names
        ],
    }


def render(names: dict[str, int]) -> dict[Path, str]:
    account = generate.service_account(NAME)
    account["metadata"]["labels"] = {**_labels(), **FIRST_STEP}
    docs = [account, deployment(), service(), pdb(), *network_policies(), ingress()]
    return {
        COMPONENT / "keycloak.yaml": generate._dump(docs),
        COMPONENT / "kustomization.yaml": generate._dump([kustomization(names)]),
        COMPONENT / "oidc-env.yaml": HEADER + yaml.safe_dump(oidc_patch(), sort_keys=False, width=120),
    }


# --- the Secrets (deploy/k8s/install.sh, deploy/checks/checks.sh dev-secrets) -----------------------------------------


def base_urls(rendered: Path) -> list[str]:
    """The page-serving services' public URLs, from ConfigMap PUBLIC_URLS of a rendered overlay (or base file)."""
    for doc in yaml.safe_load_all(rendered.read_text()):
        if doc and doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == PUBLIC_URLS:
            return [doc["data"][n] for n in WEB_SERVICES if n in doc["data"]]
    raise SystemExit(f"{rendered}: no ConfigMap {PUBLIC_URLS}")


def _write(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def write_secrets(out: Path, urls: list[str], *, demo_users: bool, dev_database: bool) -> list[str]:
    """The Secrets' files in OUT (0600; an existing file is kept, so a re-run changes nothing): keycloak-admin.env,
    oidc.env, payung-realm.json (and, for a development cluster, keycloak.env with a random database password).
    The values are deploy.native.keycloak's (people.secret.json), so the realm's client secret is oidc.env's."""
    from deploy.native import keycloak  # the native stack's realm generator and secrets file

    out.mkdir(parents=True, exist_ok=True)
    data = keycloak.ensure_secrets(out)
    files = {
        "keycloak-admin.env": f"admin-password={data['admin_password']}\n",
        "oidc.env": f"client-secret={data['client_secret']}\nsession-secret={data['session_secret']}\n",
        REALM_FILE: json.dumps(keycloak.realm(urls, data, demo_users=demo_users), indent=2) + "\n",
    }
    if dev_database:
        files["keycloak.env"] = (
            "db-url=jdbc:postgresql://postgres.payung-dev.svc:5432/keycloak\ndb-username=keycloak\n"
            f"db-password={secrets.token_hex(16)}\n"
        )
    written = []
    for name, text in files.items():
        if not (out / name).exists():
            _write(out / name, text)
            written.append(name)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="deploy.kube.keycloak", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("secrets", help="write the Keycloak and sign-in Secrets' files into OUT_DIR")
    cmd.add_argument("out_dir", type=Path)
    cmd.add_argument("--urls", type=Path, required=True, help=f"a file holding ConfigMap {PUBLIC_URLS}")
    cmd.add_argument("--demo-users", action="store_true", help="the demo users of deploy/native/keycloak.py (dev only)")
    cmd.add_argument("--dev-database", action="store_true", help="also keycloak.env (a development database)")
    args = parser.parse_args(argv)
    written = write_secrets(
        args.out_dir, base_urls(args.urls), demo_users=args.demo_users, dev_database=args.dev_database
    )
    print(f"{args.out_dir}: wrote {', '.join(written) or 'nothing (all there)'}")


if __name__ == "__main__":
    main()
