#!/usr/bin/env bash
# Runs hack/bench.ts against the local cluster (started if needed), as the
# operator's token user under the OSS RBAC. Prints figures; never fails on speed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"
bash hack/build-binaries.sh >/dev/null
bash hack/cluster-up.sh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
bash hack/install-arf.sh oss
node hack/bench.ts "${1:-200}"
