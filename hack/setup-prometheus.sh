#!/usr/bin/env bash
# Installs Debian's prometheus package (prometheus and promtool) when missing:
# the e2e suite runs a real Prometheus on loopback for the auto-rollback
# windows. Only the binaries are used; the package's own service is stopped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  log "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') is installed"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "error: prometheus is missing and apt-get is not available to install it" >&2; exit 1; }
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
log "installing Debian's prometheus package"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# The package may start its own server on :9090; the tests start their own on a free port.
$SUDO service prometheus stop >/dev/null 2>&1 || true
command -v prometheus >/dev/null 2>&1 || { echo "error: prometheus did not install" >&2; exit 1; }
