#!/usr/bin/env bash
# Runs hack/bench.ts against the local cluster (started if needed), as the
# operator's token user under the OSS RBAC. Prints figures; never fails on speed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"
bash hack/build-binaries.sh >/dev/null
bash hack/cluster-up.sh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
kubectl() { "$(k8s_bin_dir)/kubectl" "$@"; }
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd -l app.kubernetes.io/part-of=arf-operator --timeout=60s >/dev/null
kubectl create namespace arf-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
"$(helm_bin_dir)/helm" template arf charts/arf-operator --namespace arf-system --kube-version 1.35.0 \
  --set edition=oss --set 'rbac.extraUsers={arf-operator}' --show-only templates/rbac.yaml | kubectl apply -f - >/dev/null
node hack/bench.ts "${1:-200}"
