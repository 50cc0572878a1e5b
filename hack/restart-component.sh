#!/usr/bin/env bash
# Restarts one component of the running local cluster with its original
# command, after an optional pause: hack/restart-component.sh kube-apiserver 3
# Used by failure tests (clients must survive an API server restart).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?component name}" pause="${2:-0}"
dir="$ARF_CLUSTER_DIR"
[[ -f "$dir/cmd/$name" && -f "$dir/pids/$name.pid" ]] || die "no running component $name in $dir"
pid="$(cat "$dir/pids/$name.pid")"
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$pid" 2>/dev/null || true
sleep "$pause"
# Detached from the caller (its own session, no stdin), as cluster-up starts it.
nohup setsid bash -c "exec $(cat "$dir/cmd/$name")" </dev/null >>"$dir/logs/$name.log" 2>&1 &
echo $! >"$dir/pids/$name.pid"
if [[ "$name" == kube-apiserver ]]; then
  for _ in $(seq 1 180); do
    "$(k8s_bin_dir)/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1 && exit 0
    sleep 0.5
  done
  die "kube-apiserver did not become ready after restart"
fi
