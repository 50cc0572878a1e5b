#!/usr/bin/env bash
# Runs hack/bench-rollback.ts (auto-rollback reaction time) against the local
# cluster (started if needed), with a real Prometheus, as the operator's token
# user under the licensed RBAC. Prints figures; never fails on speed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"
bash hack/build-binaries.sh >/dev/null
bash hack/setup-prometheus.sh
bash hack/cluster-up.sh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
bash hack/install-arf.sh licensed
node hack/bench-rollback.ts "${1:-20}"
