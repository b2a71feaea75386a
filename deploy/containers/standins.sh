#!/usr/bin/env bash
# Local stand-ins for the public base images the Dockerfile and docker-compose.yml name, for machines that reach
# Debian's and the language registries but no container registry (docs/DEPLOYMENT.md, "Machines without Docker Hub").
# Each stand-in is built from Debian packages and tagged with EXACTLY the public name, so the project's Dockerfile
# and compose file are used unchanged:
#   docker.io/library/python:3.11-slim   debootstrap --variant=minbase bookworm + python3.11, venv, tzdata
#   docker.io/apache/kafka:4.3.1         same base + Java 17 + the Maven Central jars of .stack/kafka-libs
#   docker.io/library/postgres:17        same base + Debian's postgresql (15), an entrypoint honouring POSTGRES_*
# An image of one of these names that is not a stand-in (pulled from Docker Hub) is never replaced or removed.
# Stand-ins carry the label io.payung.standin=<hash of their recipe>; a changed recipe rebuilds them.
#   deploy/containers/standins.sh           build what is missing or stale
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/containers/standins"
SUITE=bookworm
MIRROR="${PAYUNG_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE=localhost/payung/standin-base:$SUITE
PYTHON_IMAGE=docker.io/library/python:3.11-slim
KAFKA_IMAGE=docker.io/apache/kafka:4.3.1
POSTGRES_IMAGE=docker.io/library/postgres:17
step() { printf '==> %s\n' "$*"; }
die() { echo "standins: $*" >&2; exit 1; }

BASE_RECIPE="debootstrap --variant=minbase --include=ca-certificates $SUITE"
# What decides whether a stand-in is rebuilt: the hash of its folder's files (or of the base's recipe).
recipe_hash() {
  if [[ -z "${1:-}" ]]; then echo "$BASE_RECIPE" | sha256sum | cut -c1-16; return; fi
  (cd "$HERE" && find "$1" -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
}
label_of() { podman image inspect --format '{{index .Config.Labels "io.payung.standin"}}' "$1" 2>/dev/null || true; }
exists() { podman image exists "$1"; }
# Up to date: present with our label and this recipe's hash. Present without our label: a real image, keep it.
needs_build() {
  local image=$1 want=$2 have
  exists "$image" || return 0
  have="$(label_of "$image")"
  if [[ -z "$have" || "$have" == "<no value>" ]]; then
    echo "    $image is a real image (no stand-in label): kept as it is" >&2; return 1
  fi
  [[ "$have" != "$want" ]] || return 1
  STALE_ID="$(podman image inspect --format '{{.Id}}' "$image")"  # our own stale stand-in: removed once replaced
}
STALE_ID=""
drop_stale() { [[ -n "$STALE_ID" ]] && podman rmi "$STALE_ID" >/dev/null 2>&1; STALE_ID=""; return 0; }

build_base() {
  local want dir
  want="$(recipe_hash)"
  needs_build "$BASE" "$want" || return 0
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
  step "debootstrap --variant=minbase $SUITE (the stand-ins' base)"
  dir="$(mktemp -d /var/tmp/payung-rootfs.XXXXXX)"
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1 \
    || { tail -n 30 "$dir.log" >&2; rm -f "$dir.log"; die "debootstrap failed"; }
  rm -f "$dir.log"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | podman import --change "LABEL io.payung.standin=$want" --change 'CMD ["bash"]' - "$BASE" >/dev/null 2>&1
  drop_stale
}

# podman build of one stand-in from its folder, with extra files (never committed) in a temporary context.
build_standin() {
  local image=$1 folder=$2 want ctx; shift 2
  want="$(recipe_hash "$folder")-$(label_of "$BASE" | cut -c1-8)"
  needs_build "$image" "$want" || return 0
  step "building stand-in $image"
  ctx="$(mktemp -d /var/tmp/payung-standin.XXXXXX)"
  cp -r "$HERE/$folder"/. "$ctx"
  "$@" "$ctx"
  podman build -q --format docker --network host --build-arg "BASE=$BASE" --label "io.payung.standin=$want" \
    -t "$image" "$ctx" >/dev/null || { rm -rf "$ctx"; die "building $image failed"; }
  rm -rf "$ctx"
  drop_stale
}

python_extras() {
  # The machine's own pip configuration and CA bundle, so `pip install` inside builds reaches the package index
  # the way this machine does. Only in the stand-in, never in the repository or the project's images' recipe.
  mkdir -p "$1/host"
  [[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$1/host/pip.conf"
  cp /etc/ssl/certs/ca-certificates.crt "$1/host/ca-certificates.crt"
}

kafka_extras() {
  # The broker's jars: the native stack's .stack/kafka-libs (deploy/native/kafka.py) plus kafka-tools for the image's
  # bin/ scripts (the healthcheck's kafka-broker-api-versions.sh), both resolved by Maven from Maven Central.
  "$ROOT/.venv/bin/python" -c 'from deploy.native.kafka import ensure_libs; ensure_libs()'
  mkdir -p "$1/libs"
  cp "$ROOT"/.stack/kafka-libs/*.jar "$1/libs/"
  mvn -q -B -f "$HERE/kafka/tools-pom.xml" dependency:copy-dependencies -DoutputDirectory="$1/libs" \
    -DincludeScope=runtime -DoverWriteIfNewer=false >/dev/null || die "mvn could not fetch kafka-tools"
}

t0=$SECONDS
command -v podman >/dev/null || die "podman missing (deploy/containers/podman.sh installs it)"
build_base
build_standin "$PYTHON_IMAGE" python python_extras
build_standin "$KAFKA_IMAGE" kafka kafka_extras
build_standin "$POSTGRES_IMAGE" postgres true
echo "    stand-ins ready in $((SECONDS - t0)) s"
