#!/usr/bin/env bash
# The container check (run by .ci/run): the real images and docker-compose.yml on this machine, with podman.
#   1. podman (apt-get) and its two settings (deploy/containers/podman.sh);
#   2. local stand-ins of the public base images (deploy/containers/standins.sh) and the Compose v2 CLI built from
#      its Go module (deploy/containers/compose-cli.sh), both cached: only the first run builds them;
#   3. the five service images from the one Dockerfile (podman build --format docker: HEALTHCHECK kept);
#   4. `docker compose up` of docker-compose.yml (demo profile, fresh secrets from make-env.py) through
#      `podman system service`'s Docker-compatible socket; healthchecks run by this script (no systemd here);
#   5. nominations through the running containers to "notified" (deploy/containers/flow.py);
#   6. `down` then `up` again: the nominations are still there and notified, every consumer group's committed offset
#      is where it was (not reset, not replayed), no message was sent twice, and a new nomination gets through.
# Cleans up whatever it started, even on failure: its compose project (containers, network, volumes), its podman
# service. Images are kept (they are the cache of the next run); images it did not build are never touched.
#   deploy/containers/check.sh          the whole check (prints its duration)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PROJECT="${PAYUNG_CONTAINER_PROJECT:-payung-ci}"
SERVICES=(nomination verification enrolment notification reporting)
BUDGET_S="${PAYUNG_CONTAINER_CHECK_TIMEOUT_S:-1500}"   # the whole check, cold; a warm run takes a few minutes
PORT_BASE="${PAYUNG_CONTAINER_PORT_BASE:-18500}"        # services on BASE+1..BASE+5, PostgreSQL on BASE
WORK="$ROOT/.stack/containers"
step() { printf '==> [%4ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { echo "container check: $*" >&2; exit 1; }
T0=$SECONDS
mkdir -p "$WORK"
[[ -x "$ROOT/.venv/bin/python" ]] || ./payung --help >/dev/null
PY="$ROOT/.venv/bin/python"

# A watchdog bounds the whole check: past the budget it stops this script (the trap below still cleans up).
(
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  sleep "$BUDGET_S" & nap=$!
  wait "$nap"
  echo "container check: over its ${BUDGET_S} s budget, stopping" >&2
  kill -TERM $$
) &
WATCHDOG=$!
SERVICE_PID="" HEALTH_PID="" SOCK="" COMPOSE=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n "$HEALTH_PID" ]] && kill "$HEALTH_PID" 2>/dev/null
  if [[ -n "$COMPOSE" && -n "$SOCK" && -S "$SOCK" ]]; then
    step "cleaning up: compose down -v ($PROJECT)"
    if ((rc != 0)); then
      compose ps -a >&2 || true
      compose logs --no-color --tail 40 >&2 2>/dev/null || true
    fi
    compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  fi
  if [[ -n "$SERVICE_PID" ]]; then kill "$SERVICE_PID" 2>/dev/null; wait "$SERVICE_PID" 2>/dev/null; fi
  [[ -n "$SOCK" ]] && rm -f "$SOCK"
  kill "$WATCHDOG" 2>/dev/null
  if ((rc == 0)); then echo "container check passed in $((SECONDS - T0)) s"; else echo "container check FAILED (exit $rc) after $((SECONDS - T0)) s" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

step "podman"
bash deploy/containers/podman.sh

# The compose CLI builds (Go, CPU) while the stand-ins build (downloads, disk).
bash deploy/containers/compose-cli.sh >"$WORK/compose-cli.log" 2>&1 &
CLI_JOB=$!
step "base image stand-ins"
bash deploy/containers/standins.sh
step "waiting for the compose CLI"
wait "$CLI_JOB" || { cat "$WORK/compose-cli.log" >&2; die "building the compose CLI failed"; }
COMPOSE_BIN="$(tail -n 1 "$WORK/compose-cli.log")"

for service in "${SERVICES[@]}"; do
  step "podman build --format docker --build-arg SERVICE=$service -t payung/$service:local"
  podman build -q --format docker --network host --build-arg "SERVICE=$service" -t "payung/$service:local" . >/dev/null
  [[ "$(podman image inspect --format '{{.Config.Healthcheck}}' "payung/$service:local")" != "<nil>" ]] \
    || die "payung/$service:local lost its HEALTHCHECK"
done

# The Docker-compatible API of podman, on a socket of our own (never the machine's /run/podman/podman.sock).
rm -rf "$WORK/run" && mkdir -p "$WORK/run"
SOCK="$WORK/run/podman.sock"
podman system service --time=0 "unix://$SOCK" >"$WORK/podman-service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 50); do [[ -S "$SOCK" ]] && break; sleep 0.2; done
[[ -S "$SOCK" ]] || die "podman system service did not open $SOCK"
export DOCKER_HOST="unix://$SOCK"

# A fresh configuration as an ops team makes it (make-env.py), the demo profile, the check's own ports and data.
make_env() {
  "$PY" deploy/compose/make-env.py --env "$WORK/run/ci.env" --keys "$WORK/run/keys.json" >/dev/null
  {
    echo "PAYUNG_PG_PORT=$PORT_BASE"
    local i=1
    for service in "${SERVICES[@]}"; do
      echo "PAYUNG_${service^^}_PORT=$((PORT_BASE + i))"; i=$((i + 1))
    done
    echo "PAYUNG_CI_DATA=$WORK/run/data"
  } > "$WORK/run/ports.env"
}
compose() {
  "$COMPOSE_BIN" -p "$PROJECT" -f docker-compose.yml -f deploy/compose/ci.yml \
    --env-file "$WORK/run/ci.env" --env-file deploy/compose/demo.env --env-file "$WORK/run/ports.env" "$@"
}
make_env
COMPOSE="$COMPOSE_BIN"
compose config --quiet
# What an earlier, interrupted run of this check may have left (its own project only).
compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true

# Without systemd podman runs no HEALTHCHECK by itself: run them for this project's starting containers.
health_loop() {
  while sleep 2; do
    for name in $(podman ps --filter "label=com.docker.compose.project=$PROJECT" --filter health=starting --format '{{.Names}}'); do
      podman healthcheck run "$name" >/dev/null 2>&1 || true
    done
  done
}
health_loop &
HEALTH_PID=$!

up() {
  step "compose up -d (healthy Kafka and PostgreSQL, then topics and migrations, then the services)"
  if ! compose up -d --no-build >"$WORK/run/up.log" 2>&1; then
    # Podman 4.3's aardvark-dns sometimes misses a name while many containers join the network at once (seen here:
    # a migration's "failed to resolve host 'postgres'"). One more `up` starts what failed; a second failure is real.
    grep -h -i -o "[a-z-]* didn't complete successfully.*\|failed to resolve host[^:]*" "$WORK/run/up.log" \
      <(compose logs --no-color 2>/dev/null) | sort -u | head -5 | sed 's/^/    /' >&2 || true
    echo "    compose up failed once; retrying" >&2
    compose up -d --no-build >"$WORK/run/up.log" 2>&1 || { cat "$WORK/run/up.log" >&2; die "compose up failed"; }
  fi
  local deadline=$((SECONDS + 240)) service state
  for service in "${SERVICES[@]}"; do
    while :; do
      state="$(podman inspect --format '{{.State.Health.Status}}' "$(compose ps -q "$service")" 2>/dev/null || true)"
      [[ "$state" == healthy ]] && break
      ((SECONDS < deadline)) || die "$service is not healthy ($state) 240 s after up"
      sleep 2
    done
  done
  step "all five services healthy"
}

"$PY" -m deploy.containers.flow registry "$WORK/run/data"
up
step "loading the registry snapshot (compose run verification load-registry)"
compose run --rm --no-deps verification load-registry /data/registry.csv >/dev/null
export PAYUNG_API_KEY PAYUNG_NOMINATION_URL="http://127.0.0.1:$((PORT_BASE + 1))"
PAYUNG_API_KEY="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$WORK/run/keys.json")"
step "nominations through the containers to \"notified\" (published port 127.0.0.1:$((PORT_BASE + 1)))"
"$PY" -m deploy.containers.flow submit "$WORK/run/data" "$WORK/run/state.json" 3

kafka() { compose exec -T kafka "$@"; }
# "group topic partition committed-offset" of every consumer group (lines with a numeric offset only).
offsets() {
  { kafka /opt/kafka/bin/kafka-consumer-groups.sh --bootstrap-server localhost:9092 --describe --all-groups 2>/dev/null \
      || true; } | awk '$4 ~ /^[0-9]+$/ {print $1, $2, $3, $4}' | sort
}
# Lines on the local channel, and how many of them repeat a delivery id (a message sent twice).
messages() {
  compose exec -T notification python -c "import json, pathlib
p = pathlib.Path('/var/lib/payung/messages.jsonl')
ids = [json.loads(line)['delivery_id'] for line in p.read_bytes().splitlines()] if p.exists() else []
print(len(ids), len(ids) - len(set(ids)))"
}
offsets >"$WORK/run/offsets-before.txt"
read -r sent_before _ <<<"$(messages)"
[[ -s "$WORK/run/offsets-before.txt" ]] || die "no committed consumer offsets before the restart"
[[ "$sent_before" -ge 3 ]] || die "only $sent_before message(s) on the local channel for 3 notified nominations"

step "compose down (volumes kept), then up again"
compose down --timeout 30 >/dev/null 2>&1
[[ -z "$(podman ps -a -q --filter "label=com.docker.compose.project=$PROJECT")" ]] || die "containers left after down"
up
"$PY" -m deploy.containers.flow verify "$WORK/run/state.json"
# Every group resumes from its committed offset: the same partitions, no offset lower than before the restart.
# Right after `up` the groups are still joining and the describe can come back empty or partial: ask again, for a
# bounded time, until every partition seen before is listed (a real loss of offsets then still fails below).
for _ in $(seq 30); do
  offsets >"$WORK/run/offsets-after.txt"
  (($(wc -l <"$WORK/run/offsets-after.txt") >= $(wc -l <"$WORK/run/offsets-before.txt"))) && break
  sleep 2
done
if ! awk 'NR == FNR {before[$1" "$2" "$3] = $4; next} ($1" "$2" "$3) in before {seen++; if ($4 < before[$1" "$2" "$3]) bad++}
          END {exit (bad > 0 || seen < length(before))}' "$WORK/run/offsets-before.txt" "$WORK/run/offsets-after.txt"; then
  diff "$WORK/run/offsets-before.txt" "$WORK/run/offsets-after.txt" >&2 || true
  die "consumer group offsets did not survive the restart"
fi
echo "    $(wc -l <"$WORK/run/offsets-before.txt") committed offsets survived the restart"
step "one more nomination after the restart"
"$PY" -m deploy.containers.flow submit "$WORK/run/data" "$WORK/run/state.json" 1
read -r sent_after repeated <<<"$(messages)"
[[ "$repeated" -eq 0 ]] || die "$repeated message(s) on the local channel repeat a delivery id (sent twice)"
# Exactly the new nomination's messages were added: nothing was sent again for the first three.
per_nomination=$(( sent_before / 3 ))
[[ "$sent_after" -eq $(( sent_before + per_nomination )) ]] \
  || die "messages on the local channel: $sent_before before the restart, $sent_after after one more nomination"
echo "    messages: $sent_before before the restart, $sent_after after one more nomination (none sent twice)"
