#!/usr/bin/env bash
# Installs and configures rootful podman on a Debian machine without a Docker engine (what the container check uses):
#   apt-get install podman runc debootstrap, and a containers.conf drop-in with the two settings these machines need
#   (runc: crun refuses without CAP_SYS_RESOURCE on hybrid cgroups; explicit ulimits). See docs/DEPLOYMENT.md.
set -euo pipefail
need=()
for pair in podman:podman runc:runc debootstrap:debootstrap mvn:maven; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  [[ "$(id -u)" == 0 ]] || { echo "podman.sh: installing ${need[*]} needs root" >&2; exit 1; }
  echo "==> apt-get install ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
conf=/etc/containers/containers.conf.d/50-payung.conf
if [[ ! -f "$conf" ]]; then
  mkdir -p "$(dirname "$conf")"
  cat > "$conf" <<'CONF'
# Written by Payung's deploy/containers/podman.sh (docs/DEPLOYMENT.md, "Machines without Docker Hub").
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
CONF
fi
[[ "$(podman info --format '{{.Host.OCIRuntime.Name}}')" == runc ]] || { echo "podman.sh: podman does not use runc" >&2; exit 1; }
