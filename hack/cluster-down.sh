#!/usr/bin/env bash
# Stops every process of the local cluster and removes its state.
#   --keep-logs  leave logs and the audit log in place for inspection
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$ARF_CLUSTER_DIR"
# The real node first, while the API server can still tell kubelet to stop its Pods.
# It runs even without a cluster dir: it restores host settings an interrupted run left.
bash "$HACK_DIR/real-node.sh" down
[[ -d "$dir/pids" ]] || { log "no local cluster at $dir"; exit 0; }
# Stop in reverse dependency order, so the apiserver outlives its clients.
for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  pidfile="$dir/pids/$name.pid"
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  # A stale pidfile (after a reboot) may name someone else's process now: only ours mention our directory.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
if [[ "${1:-}" == "--keep-logs" ]]; then
  rm -rf "$dir/etcd" "$dir/pids"
  log "cluster stopped; logs kept in $dir/logs"
else
  rm -rf "$dir"
  log "cluster stopped and removed"
fi
