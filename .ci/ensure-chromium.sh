#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser test (tests/integration/test_reporting_dashboard.py drives it with
# Playwright at /usr/bin/chromium; Playwright's own browser download is never used). Installs it when missing;
# needs root or sudo and Debian's package repositories. .ci/run calls this before the tests.
set -euo pipefail

[[ -x /usr/bin/chromium ]] && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "ensure-chromium: no apt-get; install Chromium at /usr/bin/chromium" >&2; exit 1; }
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "ensure-chromium: run as root (apt-get install -y chromium)" >&2; exit 1; }
  SUDO="sudo"
fi
echo "==> installing chromium (apt-get) for the dashboard test" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
[[ -x /usr/bin/chromium ]] || { echo "ensure-chromium: /usr/bin/chromium still missing" >&2; exit 1; }
