#!/usr/bin/env bash
# Installs the Debian packages the real node needs when any is missing:
# containerd, runc, the CNI plugins, buildah (the images), iptables and conntrack
# (kube-proxy). Does nothing with ARF_REAL_NODE=0.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
((ARF_REAL_NODE)) || { log "ARF_REAL_NODE=0: no real node, nothing to install"; exit 0; }
[[ $(id -u) -eq 0 ]] || die "the real node needs root; run as root or set ARF_REAL_NODE=0 for the kwok-only cluster"
packages=(containerd runc containernetworking-plugins buildah iptables conntrack)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then log "real node packages are installed"; exit 0; fi
command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
log "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "could not install ${missing[*]}"
