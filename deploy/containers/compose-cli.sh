#!/usr/bin/env bash
# Builds the Docker Compose v2 CLI from its Go module (github.com/docker/compose/v2) into .stack/tools, once:
# Debian 12's podman-compose ignores `depends_on: condition: service_healthy`; this CLI, talking to
# `podman system service`'s Docker-compatible socket, orders the stack as Docker does (docs/DEPLOYMENT.md).
#   deploy/containers/compose-cli.sh      prints the path of the built binary (a Docker CLI plugin); a copy is kept
#                                         in /var/cache/payung (PAYUNG_MACHINE_CACHE) for fresh clones
# `go install module@version` refuses this module (its go.mod has exclude directives), so the module's directory
# from `go mod download` is copied somewhere writable and built there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
COMPOSE_VERSION=v2.40.3
TOOLS="${PAYUNG_TOOLS_DIR:-$ROOT/.stack/tools}"
PLUGIN_DIR="$TOOLS/docker-cli-plugins"
BIN="$PLUGIN_DIR/docker-compose"
[[ -d /usr/local/go/bin ]] && PATH="$PATH:/usr/local/go/bin"
# A machine-wide copy outlives fresh clones (CI clones anew each run), like the podman images do.
SHARED="${PAYUNG_MACHINE_CACHE:-/var/cache/payung}/docker-compose-$COMPOSE_VERSION"
keep_shared() { { mkdir -p "$(dirname "$SHARED")" && cp "$BIN" "$SHARED.tmp" && mv "$SHARED.tmp" "$SHARED"; } 2>/dev/null || true; }
if [[ -x "$BIN" && -f "$BIN.version" && "$(cat "$BIN.version")" == "$COMPOSE_VERSION" ]]; then
  [[ -x "$SHARED" ]] || keep_shared
  echo "$BIN"; exit 0
fi
if [[ -x "$SHARED" ]]; then
  mkdir -p "$PLUGIN_DIR" && cp "$SHARED" "$BIN" && echo "$COMPOSE_VERSION" > "$BIN.version"
  echo "$BIN"; exit 0
fi
command -v go >/dev/null || { echo "compose-cli: go not found (Go 1.24+)" >&2; exit 1; }
export GOPATH="$TOOLS/go" GOMODCACHE="$TOOLS/go/mod" GOCACHE="$TOOLS/go/cache" GOTOOLCHAIN=local GOFLAGS=-mod=mod
t0=$SECONDS
echo "==> building docker compose $COMPOSE_VERSION from its Go module (once; cached in $PLUGIN_DIR)" >&2
dir="$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[[ -n "$dir" && -d "$dir" ]] || { echo "compose-cli: go mod download gave no module directory" >&2; exit 1; }
src="$TOOLS/compose-src"
rm -rf "$src" && mkdir -p "$src" && cp -r "$dir"/. "$src" && chmod -R u+w "$src"
mkdir -p "$PLUGIN_DIR"
(cd "$src" && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
  -o "$BIN.tmp" ./cmd) >&2
mv "$BIN.tmp" "$BIN"
rm -rf "$src"
echo "$COMPOSE_VERSION" > "$BIN.version"
keep_shared
echo "    built in $((SECONDS - t0)) s" >&2
echo "$BIN"
