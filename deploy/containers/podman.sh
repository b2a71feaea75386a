#!/usr/bin/env bash
# Installs and configures rootful podman on a Debian machine without a Docker engine (what the container check uses):
#   apt-get install podman runc debootstrap netavark aardvark-dns iptables, and a containers.conf drop-in with the settings these
#   machines need (runc: crun refuses without CAP_SYS_RESOURCE on hybrid cgroups; explicit ulimits; the netavark
#   network backend, whose aardvark-dns lets containers find each other by service name). See docs/DEPLOYMENT.md.
set -euo pipefail
need=()
# iptables: netavark 1.4 sets up each network's NAT and port forwards with it; without it every container start
# fails with "netavark: No such file or directory (os error 2)" (a fresh machine has no iptables).
for pair in podman:podman runc:runc debootstrap:debootstrap mvn:maven iptables:iptables; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
# Not on PATH (podman runs them from /usr/lib/podman): without them, and with --no-install-recommends, Debian's podman
# falls back to CNI with no DNS plugin and no container resolves another's name ("UnknownHostException: kafka").
for pkg in netavark aardvark-dns; do
  [[ -x "/usr/lib/podman/$pkg" ]] || need+=("$pkg")
done
if ((${#need[@]})); then
  [[ "$(id -u)" == 0 ]] || { echo "podman.sh: installing ${need[*]} needs root" >&2; exit 1; }
  echo "==> apt-get install ${need[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
conf=/etc/containers/containers.conf.d/50-payung.conf
wanted='# Written by Payung'"'"'s deploy/containers/podman.sh (docs/DEPLOYMENT.md, "Machines without Docker Hub").
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[network]
network_backend = "netavark"'
# Rewritten when an older version of this file is there (a machine set up before the network backend was pinned).
if [[ ! -f "$conf" || "$(cat "$conf")" != "$wanted" ]]; then
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$wanted" > "$conf"
fi
[[ "$(podman info --format '{{.Host.OCIRuntime.Name}}')" == runc ]] || { echo "podman.sh: podman does not use runc" >&2; exit 1; }
[[ "$(podman info --format '{{.Host.NetworkBackend}}')" == netavark ]] || {
  echo "podman.sh: podman does not use the netavark network backend (containers could not resolve each other)" >&2
  exit 1
}
