#!/usr/bin/env bash
# Runs hack/bench.ts against the local cluster (started if needed; kwok nodes
# are enough, so without the real node unless ARF_REAL_NODE=1), with a real
# Prometheus for the auto-rollback reaction, as the operator's token user under
# the licensed RBAC. Prints figures and writes bench/report.json; never fails on speed.
#   bash hack/bench.sh [--quick] [--sizes 100,1000,5000] [--memory 1000,10000] [--windows 20]
set -euo pipefail
export ARF_REAL_NODE="${ARF_REAL_NODE:-0}"
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"
bash hack/build-binaries.sh >/dev/null
bash hack/setup-prometheus.sh >/dev/null
bash hack/cluster-up.sh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
bash hack/install-arf.sh licensed
node hack/bench.ts "$@"
